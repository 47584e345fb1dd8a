{
  "targets": [
    {
      "target_name": "memlog_native",
      "sources": ["native/memlog_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
