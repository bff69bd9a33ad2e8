"""The permissions certdesk checks, by name. Each is a Django permission ("app_label.codename")."""

MANAGE_CERTIFICATION_REMOVAL = "bulk.manage_certification_removal"
VIEW_CERTIFICATIONS = "credentials.view_certification"
IMPORT_UNENROLMENTS = "bulk.import_unenrolments"
VIEW_CATALOGUE = "learning.view_activity"
EDIT_ACTIVITIES = "learning.change_activity"
EDIT_EMAIL_TEMPLATES = "learning.change_emailtemplate"
