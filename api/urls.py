from django.urls import path
from rest_framework.routers import DefaultRouter

from . import audit, catalogue, certifications, job_kinds, jobs, learners, licences, people, signin, workers

app_name = "api"

router = DefaultRouter()
router.register("jobs", jobs.JobViewSet, basename="job")

urlpatterns = [
    path("auth/token/", signin.TokenSignInView.as_view(), name="token-sign-in"),
    path("job-kinds/", job_kinds.JobKindListView.as_view(), name="job-kinds"),
    path("job-kinds/<str:kind>/template/", job_kinds.JobKindTemplateView.as_view(), name="job-kind-template"),
    path("job-kinds/<str:kind>/example/", job_kinds.JobKindExampleView.as_view(), name="job-kind-example"),
    path("workers/", workers.WorkerListView.as_view(), name="workers"),
    path("audit-events/", audit.AuditEventListView.as_view(), name="audit-events"),
    path("audit-events/export/", audit.AuditEventExportView.as_view(), name="audit-events-export"),
    path("certifications/", certifications.CertificationListView.as_view(), name="certifications"),
    path(
        "certifications/<int:pk>/awards/",
        certifications.AwardedUsersView.as_view(),
        name="certification-awards",
    ),
    path(
        "certifications/<int:pk>/awards/export/",
        certifications.AwardedUsersExportView.as_view(),
        name="certification-awards-export",
    ),
    path("awards/<int:pk>/", certifications.AwardDetailView.as_view(), name="award"),
    path(
        "enrollments/<int:pk>/complete/",
        catalogue.CompleteEnrollmentView.as_view(),
        name="enrollment-complete",
    ),
    path("external-training/", catalogue.ExternalTrainingView.as_view(), name="external-training"),
    path("license-types/", licences.LicenseTypeListView.as_view(), name="license-types"),
    path("license-types/export/", licences.LicenseTypeExportView.as_view(), name="license-types-export"),
    path("licenses/", licences.LicenseListView.as_view(), name="licenses"),
    path("licenses/<int:pk>/", licences.LicenseDetailView.as_view(), name="license"),
    path("users/", people.UserListView.as_view(), name="users"),
    path("users/<str:user_id>/", learners.LearnerView.as_view(), name="user"),
    path("users/<str:user_id>/history/", learners.LearnerHistoryView.as_view(), name="user-history"),
    path("groups/", people.GroupListView.as_view(), name="groups"),
    path("org-units/", people.OrgUnitListView.as_view(), name="org-units"),
    path("activities/", catalogue.ActivityListView.as_view(), name="activities"),
    path("enrollments/", catalogue.EnrollmentListView.as_view(), name="enrollments"),
    *router.urls,
]
