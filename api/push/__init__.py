"""Push notifications: what a push says (messages), who gets it (policy), how it reaches FCM
(notifier) and the queue that sends, retries and logs it (dispatcher)."""

from api.push.dispatcher import DeliveryLog, PushDispatcher, PushJob, TokenRegistry
from api.push.messages import PushMessage, alert_message, clip_ready_message, to_fcm
from api.push.notifier import (
    FcmNotifier,
    LoggingNotifier,
    Notifier,
    SendResult,
    build_notifier,
)
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
    "SendResult",
    "TokenRegistry",
    "alert_message",
    "build_notifier",
    "clip_ready_message",
    "recipients",
    "to_fcm",
]
