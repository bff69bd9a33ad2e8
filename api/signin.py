"""Token sign-in: ``POST /api/v1/auth/token/`` with a username and password gives the user's token.

The password is checked by ``authenticate`` with the request, so the sign-in lockout counts these
attempts as it counts the sign-in pages'.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class Credentials(serializers.Serializer[dict[str, str]]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


DETAIL = inline_serializer("SignInRefused", {"detail": serializers.CharField()})


class TokenSignInView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=Credentials,
        responses={
            200: inline_serializer("TokenIssued", {"token": serializers.CharField()}),
            400: inline_serializer(
                "Problems", {"errors": serializers.ListField(child=serializers.DictField())}
            ),
            401: DETAIL,
            429: OpenApiResponse(DETAIL, description="Locked out, or over the rate: see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        """A user's API token, for their username and password (created on first sign-in)."""
        given = Credentials(data=request.data)
        if not given.is_valid():
            errors = [
                {
                    "code": "required",
                    "message": f"{field}: {' '.join(str(m) for m in messages)}",
                    "column": field,
                }
                for field, messages in given.errors.items()
            ]
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        # The Django request, not DRF's wrapper: the lockout marks it, and its middleware answers 429.
        user = authenticate(request._request, **given.validated_data)
        if user is None or not user.is_active:
            return Response(
                {"detail": "The username or password is not right."}, status=status.HTTP_401_UNAUTHORIZED
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
