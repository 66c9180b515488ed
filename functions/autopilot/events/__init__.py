"""The event models (``autopilot.schema``) of the EventBridge events the functions handle, each
function's model map beside its models, and the one edge validation (``parse``)."""
