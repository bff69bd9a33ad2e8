"""The permissions certdesk checks, by name. Each is a Django permission ("app_label.codename")."""

MANAGE_CERTIFICATION_REMOVAL = "bulk.manage_certification_removal"
VIEW_CERTIFICATIONS = "credentials.view_certification"
IMPORT_UNENROLMENTS = "bulk.import_unenrolments"
VIEW_CATALOGUE = "learning.view_activity"
EDIT_ACTIVITIES = "learning.change_activity"
EDIT_EMAIL_TEMPLATES = "learning.change_emailtemplate"
AWARD_CERTIFICATIONS = "credentials.award_certification"
COMPLETE_ENROLMENTS = "learning.change_enrollment"
RECORD_EXTERNAL_TRAINING = "learning.add_externaltrainingrecord"
IMPORT_LICENSES = "credentials.import_licenses"
MANAGE_LICENSES = "credentials.manage_licenses"
VIEW_AUDIT_LOG = "audit.view_audit_log"
MANAGE_CERTIFICATIONS = "credentials.manage_certifications"
MANAGE_ROLES = "access.manage_roles"
APPROVE_JOBS = "bulk.approve_jobs"
MANAGE_WEBHOOKS = "webhooks.manage_webhooks"

# Every permission certdesk checks, by the tool administrators know it from, in the order the roles
# screen lists them.
TOOLS: dict[str, tuple[str, ...]] = {
    "Certification Removal Tool": (MANAGE_CERTIFICATION_REMOVAL,),
    "Certifications": (VIEW_CERTIFICATIONS, AWARD_CERTIFICATIONS, MANAGE_CERTIFICATIONS),
    "Catalogue": (
        VIEW_CATALOGUE,
        EDIT_ACTIVITIES,
        EDIT_EMAIL_TEMPLATES,
        IMPORT_UNENROLMENTS,
        COMPLETE_ENROLMENTS,
        RECORD_EXTERNAL_TRAINING,
    ),
    "Licences & Certifications": (IMPORT_LICENSES, MANAGE_LICENSES),
    "Administration": (APPROVE_JOBS, VIEW_AUDIT_LOG, MANAGE_ROLES, MANAGE_WEBHOOKS),
}
