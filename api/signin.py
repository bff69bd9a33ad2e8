"""Token sign-in: ``POST /api/v1/auth/token/`` with a username and password gives the user's token.

The password is checked by ``authenticate`` with the request, so the sign-in lockout counts these
attempts as it counts the sign-in pages'.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .schema import RefusalSerializer
from .serializers import Input


class Credentials(Input):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenSignInView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=Credentials,
        responses={
            200: inline_serializer("TokenIssued", {"token": serializers.CharField()}),
            401: OpenApiResponse(RefusalSerializer, description="The username or password is not right."),
        },
    )
    def post(self, request: Request) -> Response:
        """A user's API token, for their username and password (created on first sign-in)."""
        given = Credentials(data=request.data)
        given.is_valid(raise_exception=True)
        # The Django request, not DRF's wrapper: the lockout marks it, and its middleware answers 429.
        user = authenticate(request._request, **given.validated_data)
        if user is None or not user.is_active:
            return Response(
                {"detail": "The username or password is not right."}, status=status.HTTP_401_UNAUTHORIZED
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
