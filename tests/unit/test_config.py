"""Config loading: base chains, overrides, and clear errors at load time."""

from __future__ import annotations

import pytest
import yaml

from acga.config import config_to_dict, list_packaged_configs, load_config
from acga.errors import ConfigError


def test_every_packaged_config_loads():
    names = list_packaged_configs()
    assert "acga_a2d" in names and "released_code" in names and "ablations/baseline" in names
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name.split("/")[-1]


def test_base_chain_and_overrides():
    cfg = load_config("ablations/baseline_mrf_wbce")
    # three levels: acga_a2d -> baseline -> baseline_mrf -> baseline_mrf_wbce
    assert (cfg.model.attention, cfg.model.mrf, cfg.loss.pos_weight) == ("none", True, 1.5)
    assert cfg.model.text_kernel_size == 2
    cfg = load_config("acga_a2d", ["train.lr=1e-4", "model.heads=[S, L]", "loss.weights=[1, 2]"])
    assert cfg.train.lr == 1e-4 and cfg.model.heads == ("S", "L") and cfg.loss.weights == (1.0, 2.0)
    released = load_config("released_code")
    assert (released.train.epochs, released.model.lgva_value_channels) == (9, 832)
    assert config_to_dict(released)["model"]["heads"] == ["S", "M", "L"]


def test_unknown_key_names_the_key_and_the_nearest(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("base: acga_a2d.yaml\nmodel:\n  mfr: true\n")
    with pytest.raises(ConfigError, match=r"unknown key model\.mfr \(did you mean model\.mrf\?\)") as err:
        load_config(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("override,message", [
    ("model.attention=softmax", r"model.attention = 'softmax' is not allowed; use one of 'acga', 'kwa', 'none'"),
    ("train.batch_size=four", r"train.batch_size must be an integer, got 'four'"),
    ("model.mrf=1", r"model.mrf must be true or false"),
    ("model.heads=[L]", r"model.mrf = true needs at least two heads"),
    ("model.heads=[S, M]", r"must contain 'L'"),
    ("model.resolutions=[32, 64, 512]", r"each must be 4x the previous"),
    ("model.visual_dim=100", r"trains I3D's Mixed_4f"),
    ("nonsense.key=1", r"unknown key nonsense"),
    ("model.small3d_stem_kernel=[2, 5, 5]", r"model.small3d_stem_kernel = \[2, 5, 5\]: give three odd sizes"),
    ("model.small3d_stem_kernel=[3, 3]", r"model.small3d_stem_kernel"),
])
def test_impossible_values_fail_at_load_time(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("acga_a2d", [override])


def test_model_names_are_checked_where_models_are_built():
    # acga.config imports nothing of the models: the registry alone knows the names
    import subprocess
    import sys

    from acga.models import build_model, check_model_name

    cfg = load_config("acga_a2d", ["model.name=unet"])
    message = r"model.name = 'unet' is not a model; use one of: acga, cmsa, gavrilyuk, hu, li"
    with pytest.raises(ConfigError, match=message):
        check_model_name(cfg.model.name)
    with pytest.raises(ConfigError, match=message):
        build_model(cfg)
    code = "import sys, acga.config; print(sorted(m for m in sys.modules if m.startswith('acga.models')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_moved_baseline_keys_are_read_into_the_baseline_section():
    from acga.config import config_from_dict
    from acga.config_upgrade import MOVED_KEYS

    assert MOVED_KEYS == {f"model.{k}": f"baseline.{k}" for k in
                          ("lstm_hidden", "classifier_width", "cmsa_dim", "cmsa_key_dim")}
    # a checkpoint's stored config as acga wrote it before the baseline section existed
    old = config_to_dict(load_config("demo_quick"))
    moved = old.pop("baseline")
    assert moved == {"lstm_hidden": 64, "classifier_width": 32, "cmsa_dim": 64, "cmsa_key_dim": 16}
    old["model"].update({"lstm_hidden": 64, "classifier_width": 32, "cmsa_dim": 64, "cmsa_key_dim": 16})
    before = config_to_dict(old)
    cfg = config_from_dict(old, source="old.safetensors")
    assert old == before  # the caller's dict is left as it was
    assert cfg == load_config("demo_quick")
    assert "lstm_hidden" not in config_to_dict(cfg)["model"]  # written at the new place only
    # an old key on the command line (or in an old YAML file) works too
    assert load_config("baselines/hu", ["model.lstm_hidden=10"]).baseline.lstm_hidden == 10
    # the same value at both places is fine; two different ones are refused
    assert load_config("demo", ["model.cmsa_dim=64"]).baseline.cmsa_dim == 64
    with pytest.raises(ConfigError, match=r"model.cmsa_dim = 8 and baseline.cmsa_dim = 64: "
                                          r"model.cmsa_dim moved to baseline.cmsa_dim; keep only "
                                          r"baseline.cmsa_dim"):
        load_config("demo", ["model.cmsa_dim=8"])


def test_unknown_config_name_lists_the_packaged_ones():
    with pytest.raises(ConfigError, match="released_code"):
        load_config("no_such_config")


def _old_stored_config() -> dict:
    """A checkpoint's stored config as an earlier acga wrote it (with keys removed since)."""
    data = config_to_dict(load_config("demo_quick"))
    data["train"]["optimizer"] = "adam"
    data["data"]["hflip"] = False
    data["paper"] = {"row": "Baseline (RGB)", "params": 22749071, "metrics": {"mAP": 20.6}}
    return data


def test_retired_keys_of_old_checkpoints_are_dropped(caplog):
    import logging

    from acga.config import config_from_dict

    with caplog.at_level(logging.DEBUG, logger="acga.config"):
        cfg = config_from_dict(_old_stored_config(), source="old.safetensors")
    assert cfg == load_config("demo_quick")
    dropped = {r.getMessage().split("retired key ")[1].split(" =")[0]
               for r in caplog.records if "retired key" in r.getMessage()}
    assert dropped == {"train.optimizer", "data.hflip", "paper"}
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "retired" in r.getMessage())
    assert "optimizer" not in config_to_dict(cfg)["train"]  # and they are not written again


def test_num_workers_is_a_setting_again():
    from acga.config import config_from_dict

    # the key earlier checkpoints stored (when nothing read it) loads as a setting
    data = config_to_dict(load_config("demo_quick"))
    data["train"]["num_workers"] = 4
    assert config_from_dict(data, source="old.safetensors").train.num_workers == 4
    assert load_config("demo_quick").train.num_workers == 0
    with pytest.raises(ConfigError, match=r"train.num_workers = -1 must be >= 0"):
        load_config("demo_quick", ["train.num_workers=-1"])


def test_retired_optimizer_other_than_adam_is_refused():
    from acga.config import config_from_dict

    data = _old_stored_config()
    data["train"]["optimizer"] = "sgd"
    with pytest.raises(ConfigError, match=r"train.optimizer = 'sgd'.*only ever supported 'adam'"):
        config_from_dict(data, source="x.yaml")


def test_a_retired_key_is_only_retired_in_its_own_section():
    from acga.config import config_from_dict

    data = config_to_dict(load_config("demo_quick"))
    data["model"]["optimizer"] = "adam"
    with pytest.raises(ConfigError, match="unknown key model.optimizer"):
        config_from_dict(data)


def test_packaged_configs_carry_no_published_numbers():
    # acga.paper_results is their one home; a `paper:` block would be a second, unread copy
    from acga.config import packaged_config_dir

    for path in packaged_config_dir().rglob("*.yaml"):
        data = yaml.safe_load(path.read_text()) or {}
        assert "paper" not in data, path
