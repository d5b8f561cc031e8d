# `regrelay snoop` with VLANs (docs/snoop.md "VLANs") on a plain Linux bridge in network
# namespaces (tests/netns/snoop_vlan_test.py, built on tests/netns/lib.py): 6 access ports on 3
# VLANs, a trunk client port and a trunk uplink with a responder answering in each VLAN; replies
# and raw client messages stay in their VLAN, Interface-IDs per port and VLAN, QinQ and wrong-VLAN
# replies counted. Without root (or nft) it exits 77: skipped.
add_test(NAME snoop_vlan
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/snoop_vlan_test.py $<TARGET_FILE:regrelay> vlans)
set_tests_properties(snoop_vlan PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns)
add_test(NAME snoop_vlan_shared
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/snoop_vlan_test.py $<TARGET_FILE:regrelay>
                 vlans_shared)
set_tests_properties(snoop_vlan_shared PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns)
