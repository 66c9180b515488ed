"""The ledger's stores: one module per kind of item, over one table codec and one paging
Query (``table``); ``ledger.Ledger`` opens them on one table."""
