"""The shell around the library: one module per command (``check``, ``explain``, ``mistakes``, ``batch``,
``verify``), the options they share (``options``), writing the output (``output``) and the group with the one
error → exit-code boundary (``app``)."""
