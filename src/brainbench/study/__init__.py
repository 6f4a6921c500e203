"""The human-expert study as a web app: participants choose between the two versions of each abstract."""

from brainbench.study.app import create_app
from brainbench.study.forms import Answer, Profile
from brainbench.study.store import StudyError, StudyStore

__all__ = ["Answer", "Profile", "StudyError", "StudyStore", "create_app"]
