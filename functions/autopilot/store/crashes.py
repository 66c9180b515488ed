"""Crash loops: the crashed stops of a service's tasks, and the loops already reported.

=============  ===================================  ===================================  ========
pk             sk                                   what                                 expires
=============  ===================================  ===================================  ========
``SVC#<arn>``  ``CRASH#<task arn>``                 one crashed stop: task definition,   window
                                                    essential exit codes, stopped_at     + 1 day
``SVC#<arn>``  ``CRASHLOOP#<task definition arn>``  a crash loop already reported        window
                                                    (``loop_until``; conditional: once
                                                    per window)
=============  ===================================  ===================================  ========
"""

from __future__ import annotations

from autopilot.domain.records import StopRecord
from autopilot.store.table import DAY, Table, epoch_dt, iso_seconds, svc_pk


class Crashes:
    def __init__(self, table: Table) -> None:
        self._t = table

    def record(self, service_arn: str, record: StopRecord, *, keep_seconds: int) -> None:
        stopped = record.stopped_at.timestamp()
        self._t.put(
            {
                "pk": svc_pk(service_arn),
                "sk": f"CRASH#{record.task_arn}",
                "kind": "crash",
                "task_arn": record.task_arn,
                "task_definition": record.task_definition_arn,
                "exit_codes": list(record.essential_exit_codes),
                "stopped_at_epoch": stopped,
                "stopped_at": iso_seconds(stopped),
                "expires_at": int(stopped) + keep_seconds + DAY,
            }
        )

    def list(self, service_arn: str) -> list[StopRecord]:
        records: list[StopRecord] = []
        for item in self._t.query_prefix(svc_pk(service_arn), "CRASH#"):
            stopped = epoch_dt(item.get("stopped_at_epoch"))
            if stopped is None:
                continue
            records.append(
                StopRecord(
                    task_arn=str(item["task_arn"]),
                    task_definition_arn=str(item["task_definition"]),
                    essential_exit_codes=tuple(
                        None if c is None else int(c) for c in item.get("exit_codes") or []
                    ),
                    stopped_at=stopped,
                )
            )
        return records

    def loop_reported(self, service_arn: str, task_definition: str) -> bool:
        item = self._t.get(svc_pk(service_arn), f"CRASHLOOP#{task_definition}")
        return item is not None and int(item.get("loop_until", 0)) > self._t.epoch()

    def claim_loop(self, service_arn: str, task_definition: str, window_seconds: int) -> bool:
        """Report a crash loop of ``task_definition`` once per window: False if already done."""
        now = self._t.epoch()
        return self._t.put_if(
            {
                "pk": svc_pk(service_arn),
                "sk": f"CRASHLOOP#{task_definition}",
                "kind": "crash-loop",
                "loop_until": now + window_seconds,
                "at": iso_seconds(now),
                "expires_at": now + window_seconds + DAY,
            },
            "attribute_not_exists(pk) OR loop_until <= :now",
            {":now": now},
        )

    def release_loop(self, service_arn: str, task_definition: str) -> None:
        """Forget a report that could not be acted on (its event is retried)."""
        self._t.delete(svc_pk(service_arn), f"CRASHLOOP#{task_definition}")
