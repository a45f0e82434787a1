"""Third-party service providers (第三方平台, SPEC §8): their WeChat open platform
settings and component endpoint, tokens through the component, onboarding by
WeChat's authorization page, and the console for hundreds of sub-merchants.

Part of the ``portal`` app (its models are ``portal`` models, its migrations the
portal's): ``models`` (pushes and history), ``tokens`` (where a sub-merchant's token
comes from), ``services`` (writes), ``selectors`` (reads), ``receiver`` (the
component endpoint), ``views`` / ``urls`` (the provider's pages).
"""
