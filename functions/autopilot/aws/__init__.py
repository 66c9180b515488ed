"""The adapters: the only modules that call AWS (boto3 clients in, plain values out).
botocore's errors become the package's typed errors here (``translate``)."""
