"""Back-office pages of rows only the services write: they can be read, never added,
changed or deleted by hand (the audit history, merges, job states...)."""


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
