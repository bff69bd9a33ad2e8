from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# The API's description is for signed-in users unless CERTDESK_API_DOCS_PUBLIC opens it.
docs = SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="certdesk/api_docs.html")
if not settings.CERTDESK_API_DOCS_PUBLIC:
    docs = login_required(docs)

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs, name="api-docs"),
    path("", include("web.urls")),
]

# Under /api/, an address that matches nothing and an error answer in JSON, as the API does.
handler400 = "api.errors.bad_request"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
