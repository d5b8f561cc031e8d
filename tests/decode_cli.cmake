# CLI behaviour of `regrelay decode` on the reference captures (tests/decode_cli.sh GROUP).
foreach(group exit0 golden malformed verbose skip truncated args)
  add_test(NAME decode_cli_${group}
           COMMAND /bin/bash ${CMAKE_SOURCE_DIR}/tests/decode_cli.sh
                   $<TARGET_FILE:regrelay> ${CMAKE_SOURCE_DIR}/pcaps ${group})
endforeach()
