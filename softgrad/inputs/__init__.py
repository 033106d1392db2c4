"""The input layer: numbers from command-line values, text files and JSON case files (``values``), and the
rows of CSV/TSV (``csv``), JSON Lines (``jsonl``) and ``.npz`` (``arrays``) files for ``batch``, in blocks
(``rows``), every unreadable row located as ``file:line: what``."""
