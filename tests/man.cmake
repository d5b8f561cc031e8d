# Man pages, --version and bash completion against the binary (no privileges, no network).
# man_options: regrelay(8) documents every option of every command and no other, regrelay.conf(5)
# every configuration key (tests/man_test.py renders docs/man/*.scd with scdoc).
add_test(NAME man_options
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/man_test.py $<TARGET_FILE:regrelay>
                 ${CMAKE_SOURCE_DIR}/docs/man)
# version_cli: regrelay --version / -V print the project version and the libraries linked.
add_test(NAME version_cli
         COMMAND /bin/bash ${CMAKE_SOURCE_DIR}/tests/version_test.sh $<TARGET_FILE:regrelay> ${CMAKE_SOURCE_DIR})
set_tests_properties(man_options version_cli PROPERTIES TIMEOUT 60 LABELS cli)
# bash_completion: deploy/bash-completion/regrelay sourced in bash; commands, options per
# command, interfaces, files (tests/completion_test.sh).
add_test(NAME bash_completion
         COMMAND /bin/bash ${CMAKE_SOURCE_DIR}/tests/completion_test.sh $<TARGET_FILE:regrelay> ${CMAKE_SOURCE_DIR})
set_tests_properties(bash_completion PROPERTIES TIMEOUT 60 LABELS cli)
