"""Push notifications: what a push says (messages), who gets it (policy), the queue that
sends, retries and logs it (dispatcher), and how it gets there: one notifier per channel
(fcm: firebase-admin) behind a routing one."""

from api.push.dispatcher import DeliveryLog, PushDispatcher, PushJob, TokenRegistry
from api.push.fcm import FcmNotifier, build_fcm_notifier
from api.push.messages import PushMessage, alert_message, clip_ready_message, to_fcm
from api.push.notifier import LoggingNotifier, Notifier, RoutingNotifier, SendResult
from api.push.policy import MotionCooldown, recipients

__all__ = [
    "DeliveryLog",
    "FcmNotifier",
    "LoggingNotifier",
    "MotionCooldown",
    "Notifier",
    "PushDispatcher",
    "PushJob",
    "PushMessage",
    "RoutingNotifier",
    "SendResult",
    "TokenRegistry",
    "alert_message",
    "build_fcm_notifier",
    "clip_ready_message",
    "recipients",
    "to_fcm",
]
