"""The Digital River webhook endpoint (a face: it only hands the raw request to the service)."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.services import events


@csrf_exempt
@require_POST
def digitalriver_webhook(request):
    """Store, verify, acknowledge; processing happens in a task."""
    status, event = events.receive(request.body, request.headers.get("DigitalRiver-Signature", ""))
    return JsonResponse({"received": status == 200, "id": event.pk}, status=status)
