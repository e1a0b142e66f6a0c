"""The synthetic benchmark: seeded videos, masks and queries in the A2D-Sentences release layout
and its JHMDB-Sentences twin (layouts: docs/data.md), so the real readers (``a2d.py``,
``jhmdb.py``) read it with no special case. It is the embedded default (``acga demo``) and the
test bed of the ablations; ``docs/synthetic.md`` describes it.

Design, so that a query can only be resolved with both the language and the motion:

- Appearance is independent of action. The 7 A2D actor classes are procedural sprites (distinct
  silhouettes and details) drawn once per actor in one colour, size and facing, then pasted
  unchanged, with hard edges, at integer positions in every frame. A sprite never rotates,
  deforms or turns to face its motion, and its start position is uniform, so no single frame
  tells its action.
- The 8 actions are motions of the sprite's position over time (speeds in frame heights per
  frame, reflected at the borders so that positions stay uniform): climbing = steady vertical,
  crawling = very slow horizontal, eating = in place with a small pecking bob, flying = steady
  diagonal, jumping = periodic vertical hops, rolling = a cycloid (a point on a rolling wheel),
  running = fast horizontal, walking = slow horizontal with a bobbing gait. All are visible
  within 8 consecutive frames.
- Video kinds: ``same_appearance`` (two actors of the same class, colour, size and facing, i.e.
  the same sprite pixels, doing different actions; their queries name class and action only and
  use the same template, so only the motion resolves them), ``same_action`` (two actors of
  different classes with the same colour and size doing the same action; only the class resolves
  them), and ``random`` (1 to 3 actors with distinct (class, action) pairs; queries may add
  colour, size and position). Distractor videos may hold a third, unrelated actor.
- In every annotated frame, actors' boxes do not overlap, so every mask is the whole sprite.

Layouts written (A2D, under ``out``)::

    Release/videoset.csv                 no header; 9 columns, the 9th 0 = train / 1 = test
    Release/clips320H/<video>.mp4        H.264 yuv420p (even width and height)
    Release/pngs320H/<video>/<frame:05d>.png
    text_annotations/a2d_annotation.txt  header video_id,instance_id,query (string order of ids)
    text_annotations/a2d_missed_videos.txt
    text_annotations/a2d_annotation_with_instances/<video>/<frame:05d>.h5
    synth_meta.json                      per-video ground truth (written last: marks completion)

and (JHMDB) ``jhmdb_annotation.txt``, ``Rename_Images/<action>/<video>/<frame:05d>.png``,
``puppet_mask/<action>/<video>/puppet_mask.mat`` and ``synth_meta.json``. The folder name
"320H" is the release's name; the frames are ``size`` pixels tall.

Everything but the MP4 bytes is a pure function of the arguments: the same seed gives the same
bytes for CSV, text, PNG, HDF5 and MAT files and ``synth_meta.json``.

The Ref-YouTube-VOS and Ref-DAVIS17 layouts of the same videos are written by ``refvos.py``.
Modules, in the order a video is made: ``vocabulary`` (words, query grammar), ``motion``
(actions as trajectories), ``render`` (sprites, backgrounds, frames), ``scene`` (what a video
holds, drawn from its seed), ``output`` (which output folder may be written, staged and
published by ``acga.staging``; PNG and CSV files, the MP4 settings), ``generators``
(``generate_a2d``, ``generate_jhmdb``), ``refvos`` (``generate_ytvos``, ``generate_davis``);
``relations`` holds generator version 2's kinds (``relation``, ``comparison``). The A2D HDF5 and JHMDB MAT files are written by the
readers' modules (``a2d.write_a2d_h5``, ``jhmdb.write_puppet_mask``).
"""

from .generators import SynthSummary, generate_a2d, generate_jhmdb
from .generators import GENERATORS
from .output import META_NAME, is_synth_output, reusable_output
from .refvos import davis_palette, generate_davis, generate_ytvos
from .render import render_sprite, sprite_size
from .vocabulary import (ACTION_WORDS, ACTIONS, ACTOR_WORDS, ACTORS, COLOURS, JHMDB_ACTIONS,
                         LONG_TEMPLATES, POSITION_WORDS, SIZE_WORDS, SIZES, TEMPLATES,
                         VALID_ACTIONS)

__all__ = [
    "generate_a2d",
    "generate_jhmdb",
    "generate_ytvos",
    "generate_davis",
    "davis_palette",
    "SynthSummary",
    "is_synth_output",
    "reusable_output",
    "GENERATORS",
    "render_sprite",
    "sprite_size",
    "ACTORS",
    "ACTIONS",
    "VALID_ACTIONS",
    "COLOURS",
    "SIZES",
    "ACTOR_WORDS",
    "ACTION_WORDS",
    "SIZE_WORDS",
    "POSITION_WORDS",
    "TEMPLATES",
    "LONG_TEMPLATES",
    "JHMDB_ACTIONS",
    "META_NAME",
]
