{
  "targets": [
    {
      "target_name": "memlog_native",
      "sources": [
        "native/errors.c",
        "native/lifetime.c",
        "native/functions.c",
        "native/exec.c",
        "native/send.c",
        "native/polled.c",
        "native/receiver.c",
        "native/batch_receiver.c",
        "native/stream_set.c",
        "native/module.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-fvisibility=hidden"]
    }
  ]
}
