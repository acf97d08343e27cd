"""Public security's residence-certificate system in the demo city: a department backend the gateway
proxies (``gaj.residence-certificate``). Mounted outside production only; it stands for a department's
own system. Its answers carry a phone number and an ID number the capability masks on the way out.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)
PATH = "/demo/backends/gaj"


@router.get(PATH + "/residence-certificates/{id_number}")
def residence_certificate(request: Request, id_number: str) -> JSONResponse:
    """A 户籍证明 for the number (synthetic, derived from it), for the app and purpose the gateway names."""
    if request.headers.get("x-zhongtai-app") is None:  # only the gateway calls this system
        return JSONResponse({"error": "call through the platform's gateway"}, status_code=403)
    digest = hashlib.sha256(id_number.encode()).hexdigest()
    return JSONResponse(
        {
            "certificate_no": f"HJZM-{digest[:10].upper()}",
            "id_number": id_number,
            "phone": "138" + str(int(digest[:8], 16))[-8:].rjust(8, "0"),
            "household_type": "家庭户",
            "issued_by": "庐州市公安局户政管理处",
            "requested_by": request.headers.get("x-zhongtai-app"),
            "purpose": request.headers.get("x-zhongtai-purpose"),
        }
    )
