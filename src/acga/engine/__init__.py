"""Training and evaluation, one job per module:

- :mod:`.training`: the lr schedule, the deterministic batch order and its DataLoader sampler,
  ``train_one_epoch`` and ``fit``;
- :mod:`.evaluation`: ``predict_masks`` and ``evaluate``;
- :mod:`.distributed`: torchrun's process group and ``fit_local`` (DDP processes on this CPU);
- :mod:`.run_folder`: the files ``fit`` writes, the guard against training over a run, the log.
"""

from .distributed import DistInfo, fit_local, local_processes
from .evaluation import evaluate, predict_masks
from .run_folder import prepare_run_folder, run_outputs
from .training import BatchOrderSampler, batch_order, fit, lr_at, train_one_epoch

__all__ = ["DistInfo", "fit", "fit_local", "local_processes", "train_one_epoch", "evaluate",
           "predict_masks", "batch_order", "BatchOrderSampler", "lr_at", "run_outputs",
           "prepare_run_folder"]
