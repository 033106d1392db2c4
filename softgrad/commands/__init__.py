"""One package per command, each with the public function (``api``) and its report (``report``): ``check``
(one example), ``batch`` (files of rows), ``verify`` (the user's own function). They read ``inputs`` and
the ``catalogue`` and return plain data; they never print."""
