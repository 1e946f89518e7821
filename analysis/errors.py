"""The one user-facing failure of analysis. It is not orchestrator's UserError because analysis
never imports orchestrator; both CLIs turn it into one line on stderr and exit code 2."""


class AnalysisInputError(Exception):
    """The campaign folder is missing, malformed or of an unknown schema. The message names
    the file and says what to do."""
