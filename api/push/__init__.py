"""Push notifications: what a push says (messages), who gets it (policy), the queue that
sends, retries and logs it (dispatcher), and how it gets there: one notifier per channel
(fcm: firebase-admin; webpush: standard Web Push with VAPID, vapid) behind a routing one."""

from api.push.dispatcher import DeliveryLog, PushDispatcher, PushJob, TokenRegistry
from api.push.fcm import FcmNotifier, build_fcm_notifier
from api.push.messages import (
    PushEvent,
    PushMessage,
    alert_message,
    clip_ready_message,
    to_fcm,
    to_web_push,
)
from api.push.notifier import LoggingNotifier, Notifier, RoutingNotifier, SendResult
from api.push.policy import MotionCooldown, recipients
from api.push.vapid import VapidSigner, load_or_create_key
from api.push.webpush import WebPushNotifier

__all__ = [
    "DeliveryLog",
    "FcmNotifier",
    "LoggingNotifier",
    "MotionCooldown",
    "Notifier",
    "PushDispatcher",
    "PushEvent",
    "PushJob",
    "PushMessage",
    "RoutingNotifier",
    "SendResult",
    "TokenRegistry",
    "VapidSigner",
    "WebPushNotifier",
    "alert_message",
    "build_fcm_notifier",
    "clip_ready_message",
    "load_or_create_key",
    "recipients",
    "to_fcm",
    "to_web_push",
]
