from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views, views_awards, views_licences

app_name = "api"

router = DefaultRouter()
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("job-kinds/", views.JobKindListView.as_view(), name="job-kinds"),
    path("job-kinds/<str:kind>/template/", views.JobKindTemplateView.as_view(), name="job-kind-template"),
    path("job-kinds/<str:kind>/example/", views.JobKindExampleView.as_view(), name="job-kind-example"),
    path("certifications/", views.CertificationListView.as_view(), name="certifications"),
    path("certifications/<int:pk>/awards/", views.AwardedUsersView.as_view(), name="certification-awards"),
    path(
        "certifications/<int:pk>/awards/export/",
        views.AwardedUsersExportView.as_view(),
        name="certification-awards-export",
    ),
    path("awards/<int:pk>/", views_awards.AwardDetailView.as_view(), name="award"),
    path(
        "enrollments/<int:pk>/complete/",
        views_awards.CompleteEnrollmentView.as_view(),
        name="enrollment-complete",
    ),
    path("external-training/", views_awards.ExternalTrainingView.as_view(), name="external-training"),
    path("license-types/", views_licences.LicenseTypeListView.as_view(), name="license-types"),
    path(
        "license-types/export/", views_licences.LicenseTypeExportView.as_view(), name="license-types-export"
    ),
    path("licenses/", views_licences.LicenseListView.as_view(), name="licenses"),
    path("licenses/<int:pk>/", views_licences.LicenseDetailView.as_view(), name="license"),
    path("users/", views.UserListView.as_view(), name="users"),
    path("groups/", views.GroupListView.as_view(), name="groups"),
    path("org-units/", views.OrgUnitListView.as_view(), name="org-units"),
    path("activities/", views.ActivityListView.as_view(), name="activities"),
    path("enrollments/", views.EnrollmentListView.as_view(), name="enrollments"),
    *router.urls,
]
