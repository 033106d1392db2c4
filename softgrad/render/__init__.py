"""Renderers: each turns a report into text, last in the pipeline. Only :mod:`softgrad.render.rich_out`
knows about colour, and it is imported only when a terminal wants it."""
