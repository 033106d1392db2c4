"""The one registry of known mistakes (row-level and batch-level entries), diagnosis of a user's numbers
against it, and the inputs that expose each mistake."""

from softgrad.catalogue.mistakes import MISTAKES, STEPS, Catalogue, Mistake

__all__ = ["MISTAKES", "STEPS", "Catalogue", "Mistake"]
