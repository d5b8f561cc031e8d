# `regrelay replay` log lines and counters on captures the test writes (tests/replay_cli.sh).
add_test(NAME replay_cli
         COMMAND /bin/bash ${CMAKE_SOURCE_DIR}/tests/replay_cli.sh $<TARGET_FILE:regrelay> ${CMAKE_SOURCE_DIR}/pcaps)
set_tests_properties(replay_cli PROPERTIES TIMEOUT 60 LABELS cli)
