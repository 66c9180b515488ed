"""Reports made once: a problem announced the first time it is seen, recorded every time.

=============  =====================  ==========================================  =======
pk             sk                     what                                        expires
=============  =====================  ==========================================  =======
``SVC#<arn>``  ``REPORTED#<what>``    ``<what>`` was announced for the service     never
                                      (e.g. ``controller:CODE_DEPLOY``: a
                                      controller autopilot never deploys with)
=============  =====================  ==========================================  =======
"""

from __future__ import annotations

from autopilot.store.table import Table, svc_pk


class Reports:
    def __init__(self, table: Table) -> None:
        self._t = table

    def seen(self, service_arn: str, what: str) -> bool:
        return self._t.get(svc_pk(service_arn), f"REPORTED#{what}") is not None

    def mark(self, service_arn: str, what: str) -> bool:
        """Remember that ``what`` was announced; False if it already was (conditional)."""
        return self._t.put_if(
            {
                "pk": svc_pk(service_arn),
                "sk": f"REPORTED#{what}",
                "kind": "reported",
                "at": self._t.now_iso(),
            },
            "attribute_not_exists(pk)",
        )
