"""Per-domain WeChat APIs, one method per endpoint, bound to a ``WeChatClient``."""
