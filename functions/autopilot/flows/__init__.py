"""One module per reaction, each a linear function you read top to bottom: gather the facts
(AWS's state read now, and the ledger) -> plan (``logic``, pure, the plan carries its final
outcome) -> carry it out (``execute``, the one actor) -> record (``record``)."""
