"""core/ — the vocabulary every layer shares: kinds (enums), the snapshot model, options and
thresholds, errors, number formatting, text safety. Imports nothing of the package above it."""

__all__ = ["errors", "fmt", "kinds", "model", "options", "slots", "textsafe", "times"]
