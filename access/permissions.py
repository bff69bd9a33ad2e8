"""The permissions certdesk checks, by name. Each is a Django permission ("app_label.codename")."""

MANAGE_CERTIFICATION_REMOVAL = "bulk.manage_certification_removal"
VIEW_CERTIFICATIONS = "credentials.view_certification"
