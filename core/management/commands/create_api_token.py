"""Create an API token for a user and print it once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor, Face
from core.tokens import issue_api_token


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (it is stored hashed and never shown again)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        _, key = issue_api_token(Actor.system(Face.COMMAND), user, name)
        self.stdout.write(key)
