from django.urls import path

from . import (
    views,
    views_awards,
    views_catalogue,
    views_certifications,
    views_create,
    views_enrolments,
    views_licences,
    views_people,
)
from .views_upload import new_job

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("tools/certification-removal/", views.removal_tool, name="removal-tool"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/kinds/<str:kind>/<str:which>.<str:fmt>", views.kind_sample, name="kind-sample"),
    path("jobs/new/<str:kind>/", new_job, name="job-new"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/start/", views.job_start, name="job-start"),
    path("jobs/<int:pk>/restore/", views.job_restore, name="job-restore"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job-progress"),
    path("jobs/<int:pk>/results/", views.job_results, name="job-results"),
    path("jobs/<int:pk>/original/", views.job_original, name="job-original"),
    path("tools/certification-removal/new/", views_create.new_job, name="removal-new"),
    path("tools/certification-removal/template.csv", views_create.template, name="removal-template"),
    path("tools/certification-removal/<int:pk>/confirm/", views_create.confirm_job, name="removal-confirm"),
    path("certifications/", views_certifications.certification_list, name="certifications"),
    path("certifications/<int:pk>/users/", views_certifications.view_users, name="certification-users"),
    path(
        "certifications/<int:pk>/users/export/",
        views_certifications.export_users,
        name="certification-export",
    ),
    path("certifications/award-from-file/", views_awards.award_file, name="award-file"),
    path("certifications/<int:pk>/award/", views_awards.award_users, name="award-users"),
    path("certifications/<int:pk>/award/search/", views_awards.award_search, name="award-search"),
    path(
        "certifications/<int:certification_pk>/awards/<int:pk>/edit/",
        views_awards.award_edit,
        name="award-edit",
    ),
    path(
        "certifications/<int:certification_pk>/awards/<int:pk>/unassign/",
        views_awards.award_unassign,
        name="award-unassign",
    ),
    path(
        "certifications/<int:certification_pk>/awards/<int:pk>/reinstate/",
        views_awards.award_reinstate,
        name="award-reinstate",
    ),
    path("licences/", views_licences.licence_list, name="licences"),
    path("licences/add/", views_licences.licence_form, name="licence-add"),
    path("licences/<int:pk>/edit/", views_licences.licence_form, name="licence-edit"),
    path("licences/<int:pk>/delete/", views_licences.licence_delete, name="licence-delete"),
    path("licences/import/", views_licences.licence_import, name="licence-import"),
    path("licences/available-licenses.csv", views_licences.available_licences, name="available-licences"),
    path("licences/<str:which>.<str:fmt>", views_licences.licence_sample, name="licence-sample"),
    path("people/", views_people.people_list, name="people"),
    path("people/<str:user_id>/", views_people.learner, name="learner"),
    path("enrolments/<int:pk>/unenrol/", views_enrolments.unenrol_learner, name="enrolment-unenrol"),
    path("enrolments/<int:pk>/enrol-again/", views_enrolments.reenrol_learner, name="enrolment-reenrol"),
    path("enrolments/<int:pk>/complete/", views_enrolments.complete_learner, name="enrolment-complete"),
    path("catalogue/", views_catalogue.catalogue, name="catalogue"),
    path("catalogue/activities/<int:pk>/", views_catalogue.activity_properties, name="activity"),
    path("catalogue/import-unenrolments/", views_catalogue.import_unenrolments, name="import-unenrolments"),
    path(
        "catalogue/import-unenrolments/template.csv",
        views_catalogue.unenrolment_template,
        name="unenrolment-template",
    ),
    path(
        "catalogue/import-unenrolments/example.csv",
        views_catalogue.unenrolment_example,
        name="unenrolment-example",
    ),
    path("catalogue/unenrolment-imports/", views_catalogue.unenrolment_imports, name="unenrolment-imports"),
    path("catalogue/unenrolment-email/", views_catalogue.unenrolment_email, name="unenrolment-email"),
]
