"""The teaching pages: the teacher's page (``/teach``) and the class page residents join (``/class``)."""

from ui_components.teaching.host import TeachingHost
from ui_components.teaching.pages import CLASS_QUEUE_ROOM, NO_NAVBAR_CSS, mount_teaching_pages

__all__ = ["CLASS_QUEUE_ROOM", "NO_NAVBAR_CSS", "TeachingHost", "mount_teaching_pages"]
