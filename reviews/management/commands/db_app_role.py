import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.ops.db_roles import RoleError, app_role_grant


class Command(BaseCommand):
    help = (
        "Create or update the database role web and workers connect as (PostgreSQL; run as the tables' owner "
        "after migrate): reads and writes on every table, only INSERT and SELECT on the audit trail, owner of "
        "nothing, so it cannot disable the audit trigger. Safe to run after every migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="Role name, e.g. oversight_app.")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="Environment variable holding the role's password (needed to create it; sets it if given).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        variable = options["password_env"]
        password = os.environ.get(variable, "") if variable else None
        if variable and not password:
            raise CommandError(f"{variable} is empty or unset.")
        try:
            app_role_grant(role=options["role"], password=password)
        except RoleError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"role {options['role']}: grants applied")
