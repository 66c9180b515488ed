"""The event models: pydantic models of the EventBridge events the functions handle, each
function's model map beside its models, and the one edge validation (``parse``)."""
