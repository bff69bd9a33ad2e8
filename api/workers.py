"""Workers: which are alive, which run a job, and which job (only when the caller may see it)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulk.worker_status import workers_seen_by

from .permissions import MaySeeWorkers
from .serializers import WorkersSerializer


class WorkerListView(APIView):
    """The workers alive now, then those seen in the last ``CERTDESK_WORKERS_LISTED_SECONDS`` (an hour),
    with counts of the alive ones. Not paginated: the time window bounds the list."""

    permission_classes = [MaySeeWorkers]

    @extend_schema(responses={200: WorkersSerializer})
    def get(self, request: Request) -> Response:
        overview = workers_seen_by(request.user)
        data = {
            "alive": len(overview.alive),
            "busy": overview.busy,
            "idle": overview.idle,
            "results": overview.workers,
        }
        return Response(WorkersSerializer(data).data)
