"""Make ``uv export --format cyclonedx1.5``'s SBOM reproducible: stdin to stdout.

uv stamps each export with the current time and a random serial number, so two builds of one
commit would differ in ``/app/sbom.cdx.json``. Here the timestamp becomes ``SOURCE_DATE_EPOCH``
(the commit's time; 0 when unset) and the serial number a UUID derived from the rest of the
document: the same lockfile gives the same bytes. Standard library only (it runs in the image's
build stage with the base image's Python).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any


def normalize(sbom: dict[str, Any], source_date_epoch: int) -> dict[str, Any]:
    """``sbom`` with its timestamp and serial number derived from ``source_date_epoch`` and its
    content."""
    metadata = sbom.setdefault("metadata", {})
    metadata["timestamp"] = datetime.fromtimestamp(source_date_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sbom.pop("serialNumber", None)
    digest = hashlib.sha256(json.dumps(sbom, sort_keys=True).encode()).hexdigest()
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:sha256:{digest}")
    head = {"bomFormat": sbom.pop("bomFormat"), "specVersion": sbom.pop("specVersion")}
    return {**head, "serialNumber": serial.urn, **sbom}


def main() -> None:
    """Read the SBOM from stdin, write the reproducible one to stdout."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or 0)
    json.dump(normalize(json.load(sys.stdin), epoch), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
