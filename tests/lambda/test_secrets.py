"""paycore.secrets.SecretStore under the processor's message-group threads."""
from __future__ import annotations


def test_threads_that_miss_the_secret_cache_together_read_the_secret_once():
    """The processor's message-group threads share one GetSecretValue on a cold cache."""
    import threading
    import time

    from paycore.secrets import SecretStore

    entered, release, calls = threading.Event(), threading.Event(), []

    class Client:
        def get_secret_value(self, **kwargs):
            calls.append(kwargs["SecretId"])
            entered.set()
            release.wait(timeout=30)
            return {"SecretString": '{"current": "whsec_x"}'}

    store = SecretStore(Client(), prefix="p/")
    first = threading.Thread(target=store.signing, args=("stripe",))
    first.start()
    assert entered.wait(timeout=30)
    others = [threading.Thread(target=store.signing, args=("stripe",)) for _ in range(3)]
    for thread in others:
        thread.start()
    time.sleep(0.2)  # let them reach the store while the first read is in flight (not an assertion)
    release.set()
    for thread in [first, *others]:
        thread.join(timeout=30)
    assert calls == ["p/stripe/signing"]
