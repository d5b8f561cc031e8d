-- regrelay-addrreg.lua: RFC 9686 (registering self-generated IPv6 addresses) for Wireshark/tshark.
--
-- Wireshark 4.0 (Debian 12) shows DHCPv6 message types 36 (ADDR-REG-INFORM) and 37
-- (ADDR-REG-REPLY) as "Unknown" and option 148 (OPTION_ADDR_REG_ENABLE) as "Unknown (148)".
-- This plugin adds an "RFC 9686 Address Registration" tree (filter name `addrreg`) to every frame
-- whose DHCPv6 payload carries one of these, directly or inside Relay-forward/Relay-reply
-- messages (option 9) at any depth up to 32 relay levels (Wireshark's own hop-count limit), and
-- names the message in the Info column. The built-in DHCPv6 tree is left exactly as it is.
--
-- How: a postdissector. After the built-in dissector has run, it takes the outermost "dhcpv6"
-- protocol item of the frame (its bytes are the UDP payload, wherever the built-in dissector
-- found DHCPv6: ports 546/547 or "Decode As"), walks the relay levels itself with bounds checks,
-- and adds its own fields. It never replaces or re-registers the dhcpv6 dissector.
--
-- Step-aside rule (no duplicate tree on Wireshark releases that decode RFC 9686 natively):
-- the plugin asks the built-in dissector, frame by frame, instead of guessing a version number.
--   * message types: if any dhcpv6.msgtype item with value 36 or 37 in the frame is displayed
--     with a name (its display text does not start with "Unknown"), the built-in dissector knows
--     RFC 9686 messages and the plugin adds nothing for them (no tree, Info column untouched);
--   * option 148: likewise for dhcpv6.option.type (the option itself) and
--     dhcpv6.requested_option_code (148 in an Option Request).
-- So the plugin works on 4.0 and steps aside by itself on the first release whose packet-dhcpv6.c
-- names these codes, whatever its number. The preference "addrreg.step_aside" (default on) turns
-- the rule off, to compare both decodings.
--
-- Fields (stable names, documented in docs/wireshark.md):
--   addrreg                       the protocol (one item per message, per frame)
--   addrreg.msgtype               36 ADDR-REG-INFORM / 37 ADDR-REG-REPLY
--   addrreg.xid                   transaction id
--   addrreg.relay_depth           relay levels around the message (0 = sent directly)
--   addrreg.relay                 one subtree per relay level, outermost first:
--     addrreg.relay.msgtype, addrreg.relay.hopcount, addrreg.relay.link_address,
--     addrreg.relay.peer_address, addrreg.relay.interface_id (option 18),
--     addrreg.relay.client_lladdr (option 79, Ethernet)
--   addrreg.option                each option of the 36/37 message (code, named), with
--     addrreg.option.length, addrreg.option.value (undecoded options)
--   addrreg.client_duid, addrreg.server_duid   options 1 and 2
--   addrreg.ia_addr, addrreg.preferred, addrreg.valid   option 5 (IA Address)
--   addrreg.status_code, addrreg.status_message         option 13 (also inside option 5)
--   addrreg.oro                   codes of an Option Request (option 6) in a 36/37 message
--   addrreg.option148             option 148 present; value = type of the message carrying it
--   addrreg.oro148                148 requested in an Option Request; value = type of that message
-- Expert infos: addrreg.malformed, addrreg.option148_length.
--
-- Install: copy to Wireshark's "Global Lua Plugins" or "Personal Lua Plugins" folder
-- (`tshark -G folders`; Debian 12: /usr/lib/x86_64-linux-gnu/wireshark/plugins), or load it
-- once with `tshark -X lua_script:regrelay-addrreg.lua`. Part of regrelay; see docs/wireshark.md.

local PLUGIN_VERSION = "1.0.0"

if set_plugin_info then
    set_plugin_info({
        version = PLUGIN_VERSION,
        description = "RFC 9686 ADDR-REG-INFORM/ADDR-REG-REPLY and option 148 (regrelay)",
        author = "regrelay",
    })
end

local MAX_RELAY_DEPTH = 32  -- relay levels decoded around a message (packet-dhcpv6.c HOP_COUNT_LIMIT)
local RELAY_FORW, RELAY_REPL = 12, 13
local ADDR_REG_INFORM, ADDR_REG_REPLY = 36, 37
local OPT_CLIENTID, OPT_SERVERID, OPT_IAADDR, OPT_ORO = 1, 2, 5, 6
local OPT_RELAY_MSG, OPT_STATUS, OPT_IFID, OPT_CLIENT_LL = 9, 13, 18, 79
local OPT_ADDR_REG_ENABLE = 148

local msgtype_names = {
    [1] = "Solicit", [2] = "Advertise", [3] = "Request", [4] = "Confirm", [5] = "Renew",
    [6] = "Rebind", [7] = "Reply", [8] = "Release", [9] = "Decline", [10] = "Reconfigure",
    [11] = "Information-request", [12] = "Relay-forw", [13] = "Relay-reply",
    [ADDR_REG_INFORM] = "ADDR-REG-INFORM", [ADDR_REG_REPLY] = "ADDR-REG-REPLY",
}

local option_names = {
    [1] = "Client Identifier", [2] = "Server Identifier", [3] = "IA_NA", [4] = "IA_TA",
    [5] = "IA Address", [6] = "Option Request", [7] = "Preference", [8] = "Elapsed Time",
    [9] = "Relay Message", [11] = "Authentication", [12] = "Server Unicast", [13] = "Status Code",
    [14] = "Rapid Commit", [15] = "User Class", [16] = "Vendor Class",
    [17] = "Vendor-specific Information", [18] = "Interface-Id", [19] = "Reconfigure Message",
    [20] = "Reconfigure Accept", [23] = "DNS Recursive Name Server", [24] = "Domain Search List",
    [25] = "IA_PD", [26] = "IA Prefix", [37] = "Remote-Id", [38] = "Subscriber-Id",
    [39] = "Client FQDN", [79] = "Client Link-Layer Address",
    [OPT_ADDR_REG_ENABLE] = "ADDR-REG-ENABLE",
}

local status_names = {
    [0] = "Success", [1] = "UnspecFail", [2] = "NoAddrsAvail", [3] = "NoBinding",
    [4] = "NotOnLink", [5] = "UseMulticast", [6] = "NoPrefixAvail",
}

local addrreg = Proto("addrreg", "RFC 9686 Address Registration")

local hf = {
    msgtype = ProtoField.uint8("addrreg.msgtype", "Message type", base.DEC, msgtype_names),
    xid = ProtoField.uint24("addrreg.xid", "Transaction ID", base.HEX),
    relay_depth = ProtoField.uint8("addrreg.relay_depth", "Relay depth", base.DEC),
    relay = ProtoField.none("addrreg.relay", "Relay level"),
    relay_msgtype = ProtoField.uint8("addrreg.relay.msgtype", "Relay message type", base.DEC,
                                     msgtype_names),
    relay_hopcount = ProtoField.uint8("addrreg.relay.hopcount", "Hop count", base.DEC),
    relay_link = ProtoField.ipv6("addrreg.relay.link_address", "Link address"),
    relay_peer = ProtoField.ipv6("addrreg.relay.peer_address", "Peer address"),
    relay_ifid = ProtoField.bytes("addrreg.relay.interface_id", "Interface-Id"),
    relay_lladdr = ProtoField.ether("addrreg.relay.client_lladdr", "Client link-layer address"),
    option = ProtoField.uint16("addrreg.option", "Option", base.DEC, option_names),
    option_length = ProtoField.uint16("addrreg.option.length", "Length", base.DEC),
    option_value = ProtoField.bytes("addrreg.option.value", "Value"),
    client_duid = ProtoField.bytes("addrreg.client_duid", "Client DUID"),
    server_duid = ProtoField.bytes("addrreg.server_duid", "Server DUID"),
    ia_addr = ProtoField.ipv6("addrreg.ia_addr", "Registered address"),
    preferred = ProtoField.uint32("addrreg.preferred", "Preferred lifetime", base.DEC),
    valid = ProtoField.uint32("addrreg.valid", "Valid lifetime", base.DEC),
    status_code = ProtoField.uint16("addrreg.status_code", "Status code", base.DEC, status_names),
    status_message = ProtoField.string("addrreg.status_message", "Status message"),
    oro = ProtoField.uint16("addrreg.oro", "Requested option", base.DEC, option_names),
    option148 = ProtoField.uint8("addrreg.option148", "ADDR-REG-ENABLE (option 148) in",
                                 base.DEC, msgtype_names),
    oro148 = ProtoField.uint8("addrreg.oro148", "ADDR-REG-ENABLE (148) requested in",
                              base.DEC, msgtype_names),
}
addrreg.fields = {
    hf.msgtype, hf.xid, hf.relay_depth, hf.relay, hf.relay_msgtype, hf.relay_hopcount,
    hf.relay_link, hf.relay_peer, hf.relay_ifid, hf.relay_lladdr, hf.option, hf.option_length,
    hf.option_value, hf.client_duid, hf.server_duid, hf.ia_addr, hf.preferred, hf.valid,
    hf.status_code, hf.status_message, hf.oro, hf.option148, hf.oro148,
}

local ei = {
    malformed = ProtoExpert.new("addrreg.malformed", "Malformed DHCPv6 message",
                                expert.group.MALFORMED, expert.severity.WARN),
    option148_length = ProtoExpert.new("addrreg.option148_length",
                                       "ADDR-REG-ENABLE must have option-len 0 (RFC 9686 section 4.1)",
                                       expert.group.PROTOCOL, expert.severity.WARN),
}
addrreg.experts = { ei.malformed, ei.option148_length }

addrreg.prefs.step_aside = Pref.bool("Step aside when Wireshark decodes RFC 9686 itself", true,
    "Add nothing for message types 36/37 (option 148) when the built-in DHCPv6 dissector "
    .. "already displays them with a name")

-- What the built-in dissector produced for this frame.
local f_dhcpv6 = Field.new("dhcpv6")
local f_msgtype = Field.new("dhcpv6.msgtype")
local f_option_type = Field.new("dhcpv6.option.type")
local f_requested = Field.new("dhcpv6.requested_option_code")

-- True when the built-in dissector displays one of `codes` with a name in this frame.
local function builtin_names(field, codes)
    for _, fi in ipairs({ field() }) do
        if codes[fi.value] then
            local shown = fi.display or ""
            if shown ~= "" and not shown:find("^Unknown") then
                return true
            end
        end
    end
    return false
end

-- ---- the walk: DHCPv6 bytes -> list of messages (pure, bounds-checked) ----------------------

-- Options of tvb[off, stop): list of {code, off, len} (off = option header), and whether the
-- list ended cleanly.
local function options(tvb, off, stop)
    local list = {}
    while off < stop do
        if stop - off < 4 then
            return list, false
        end
        local code = tvb(off, 2):uint()
        local len = tvb(off + 2, 2):uint()
        if off + 4 + len > stop then
            return list, false
        end
        list[#list + 1] = { code = code, off = off, len = len }
        off = off + 4 + len
    end
    return list, true
end

-- Walks the message at tvb[off, off+len) inside `relays` (outermost first) and appends every
-- client/server message found to `out` as
--   {type, off, len, relays, opts, ok, too_deep}
local function walk(tvb, off, len, relays, out)
    if len < 1 then
        out[#out + 1] = { off = off, len = len, relays = relays, opts = {}, ok = false }
        return
    end
    local mtype = tvb(off, 1):uint()
    if mtype == RELAY_FORW or mtype == RELAY_REPL then
        if #relays >= MAX_RELAY_DEPTH then
            out[#out + 1] = { type = mtype, off = off, len = len, relays = relays, opts = {},
                              ok = false, too_deep = true }
            return
        end
        if len < 34 then
            out[#out + 1] = { type = mtype, off = off, len = len, relays = relays, opts = {},
                              ok = false }
            return
        end
        local opts, ok = options(tvb, off + 34, off + len)
        local level = { type = mtype, off = off, len = len, opts = opts, ok = ok }
        local inner = {}
        for i = 1, #relays do inner[i] = relays[i] end
        inner[#inner + 1] = level
        local found = false
        for _, o in ipairs(opts) do
            if o.code == OPT_RELAY_MSG and not found then
                found = true
                walk(tvb, o.off + 4, o.len, inner, out)
            end
        end
        if not found then
            out[#out + 1] = { type = mtype, off = off, len = len, relays = relays, opts = {},
                              ok = false }
        end
        return
    end
    if len < 4 then
        out[#out + 1] = { type = mtype, off = off, len = len, relays = relays, opts = {}, ok = false }
        return
    end
    local opts, ok = options(tvb, off + 4, off + len)
    out[#out + 1] = { type = mtype, off = off, len = len, relays = relays, opts = opts, ok = ok }
end

-- ---- the tree -------------------------------------------------------------------------------

local function name_of(tbl, v)
    return tbl[v] or "Unknown"
end

local function add_relays(tree, tvb, relays)
    for i, r in ipairs(relays) do
        local t = tree:add(hf.relay, tvb(r.off, 34))
        t:set_text(string.format("Relay level %d: %s, hop count %d, link %s, peer %s", i,
                                 name_of(msgtype_names, r.type), tvb(r.off + 1, 1):uint(),
                                 tostring(tvb(r.off + 2, 16):ipv6()),
                                 tostring(tvb(r.off + 18, 16):ipv6())))
        t:add(hf.relay_msgtype, tvb(r.off, 1))
        t:add(hf.relay_hopcount, tvb(r.off + 1, 1))
        t:add(hf.relay_link, tvb(r.off + 2, 16))
        t:add(hf.relay_peer, tvb(r.off + 18, 16))
        for _, o in ipairs(r.opts) do
            if o.code == OPT_IFID and o.len > 0 then
                t:add(hf.relay_ifid, tvb(o.off + 4, o.len))
            elseif o.code == OPT_CLIENT_LL and o.len == 8 and tvb(o.off + 4, 2):uint() == 1 then
                t:add(hf.relay_lladdr, tvb(o.off + 6, 6))
            end
        end
    end
end

local add_option  -- forward

local function add_status(t, tvb, o)
    if o.len >= 2 then
        t:add(hf.status_code, tvb(o.off + 4, 2))
        if o.len > 2 then
            t:add(hf.status_message, tvb(o.off + 6, o.len - 2))
        end
    else
        t:add_proto_expert_info(ei.malformed, "Status Code shorter than 2 bytes")
    end
end

-- One option of a 36/37 message (and the sub-options of an IA Address).
add_option = function(tree, tvb, o, msg_type, with_148)
    local t = tree:add(hf.option, tvb(o.off, 4 + o.len), o.code)
    t:set_text(string.format("%s (%d), length %d", name_of(option_names, o.code), o.code, o.len))
    t:add(hf.option_length, tvb(o.off + 2, 2))
    local vstart = o.off + 4
    if o.code == OPT_CLIENTID and o.len > 0 then
        t:add(hf.client_duid, tvb(vstart, o.len))
    elseif o.code == OPT_SERVERID and o.len > 0 then
        t:add(hf.server_duid, tvb(vstart, o.len))
    elseif o.code == OPT_IAADDR then
        if o.len < 24 then
            t:add_proto_expert_info(ei.malformed, "IA Address shorter than 24 bytes")
            return
        end
        t:add(hf.ia_addr, tvb(vstart, 16))
        t:add(hf.preferred, tvb(vstart + 16, 4))
        t:add(hf.valid, tvb(vstart + 20, 4))
        t:append_text(string.format(": %s, preferred %d, valid %d",
                                    tostring(tvb(vstart, 16):ipv6()),
                                    tvb(vstart + 16, 4):uint(), tvb(vstart + 20, 4):uint()))
        local subs, ok = options(tvb, vstart + 24, vstart + o.len)
        for _, s in ipairs(subs) do
            if s.code == OPT_STATUS then
                local st = t:add(hf.option, tvb(s.off, 4 + s.len), s.code)
                st:set_text(string.format("Status Code (13), length %d", s.len))
                add_status(st, tvb, s)
            else
                add_option(t, tvb, s, msg_type, with_148)
            end
        end
        if not ok then
            t:add_proto_expert_info(ei.malformed, "Truncated IA Address sub-option")
        end
    elseif o.code == OPT_STATUS then
        add_status(t, tvb, o)
    elseif o.code == OPT_ORO then
        for i = 0, math.floor(o.len / 2) - 1 do
            local code = tvb(vstart + 2 * i, 2):uint()
            t:add(hf.oro, tvb(vstart + 2 * i, 2))
            if code == OPT_ADDR_REG_ENABLE and with_148 then
                t:add(hf.oro148, tvb(vstart + 2 * i, 2), msg_type)
            end
        end
    elseif o.code == OPT_ADDR_REG_ENABLE then
        if with_148 then
            local it = t:add(hf.option148, tvb(o.off, 4 + o.len), msg_type)
            if o.len ~= 0 then
                it:add_proto_expert_info(ei.option148_length)
            end
        end
    elseif o.len > 0 then
        t:add(hf.option_value, tvb(vstart, o.len))
    end
end

local function relay_suffix(relays)
    if #relays == 0 then return "" end
    return string.format(", inside %d relay message%s", #relays, #relays == 1 and "" or "s")
end

-- A 36/37 message: the full tree.
local function add_registration(tree, tvb, m, with_148)
    local t = tree:add(addrreg, tvb(m.off, m.len))
    local xid = m.len >= 4 and tvb(m.off + 1, 3):uint() or nil
    local text = string.format("RFC 9686 Address Registration: %s", name_of(msgtype_names, m.type))
    if xid then text = text .. string.format(", xid 0x%06x", xid) end
    for _, o in ipairs(m.opts) do
        if o.code == OPT_IAADDR and o.len >= 24 then
            text = text .. ", address " .. tostring(tvb(o.off + 4, 16):ipv6())
            break
        end
    end
    t:set_text(text .. relay_suffix(m.relays))
    t:add(hf.msgtype, tvb(m.off, 1))
    if xid then t:add(hf.xid, tvb(m.off + 1, 3)) end
    t:add(hf.relay_depth, tvb(m.off, 1), #m.relays):set_generated()
    add_relays(t, tvb, m.relays)
    for _, o in ipairs(m.opts) do
        add_option(t, tvb, o, m.type, with_148)
    end
    if not m.ok then
        t:add_proto_expert_info(ei.malformed)
    end
end

-- Any other message carrying option 148 or requesting it: only those items.
local function add_enable(tree, tvb, m)
    local items = {}
    for _, o in ipairs(m.opts) do
        if o.code == OPT_ADDR_REG_ENABLE then
            items[#items + 1] = { field = hf.option148, range = tvb(o.off, 4 + o.len), opt = o }
        elseif o.code == OPT_ORO then
            for i = 0, math.floor(o.len / 2) - 1 do
                if tvb(o.off + 4 + 2 * i, 2):uint() == OPT_ADDR_REG_ENABLE then
                    items[#items + 1] = { field = hf.oro148, range = tvb(o.off + 4 + 2 * i, 2) }
                end
            end
        end
    end
    if #items == 0 then return end
    local present, requested = false, false
    for _, it in ipairs(items) do
        if it.opt then present = true else requested = true end
    end
    local how = present and (requested and "present and requested" or "present") or "requested"
    local t = tree:add(addrreg, tvb(m.off, m.len))
    t:set_text(string.format("RFC 9686 Address Registration: ADDR-REG-ENABLE (148) %s in %s (%d)%s",
                             how, name_of(msgtype_names, m.type), m.type, relay_suffix(m.relays)))
    t:add(hf.relay_depth, tvb(m.off, 1), #m.relays):set_generated()
    add_relays(t, tvb, m.relays)
    for _, it in ipairs(items) do
        local item = t:add(it.field, it.range, m.type)
        if it.opt and it.opt.len ~= 0 then
            item:add_proto_expert_info(ei.option148_length)
        end
    end
end

-- ---- the postdissector ----------------------------------------------------------------------

local REG_TYPES = { [ADDR_REG_INFORM] = true, [ADDR_REG_REPLY] = true }
local ENABLE_CODE = { [OPT_ADDR_REG_ENABLE] = true }

function addrreg.dissector(_, pinfo, tree)
    local layers = { f_dhcpv6() }
    if #layers == 0 then return end

    local step_aside = addrreg.prefs.step_aside
    local do_msgs = not (step_aside and builtin_names(f_msgtype, REG_TYPES))
    local do_148 = not (step_aside and (builtin_names(f_option_type, ENABLE_CODE)
                                        or builtin_names(f_requested, ENABLE_CODE)))
    if not do_msgs and not do_148 then return end

    -- The outermost DHCPv6 items: the built-in dissector also adds one per relayed message,
    -- inside the bytes of its parent; the walk below finds those itself.
    local done = {}
    local named = {}
    for _, fi in ipairs(layers) do
        local start, stop = fi.offset, fi.offset + fi.len
        local nested = false
        for _, d in ipairs(done) do
            if start >= d[1] and stop <= d[2] then nested = true break end
        end
        if not nested and fi.len > 0 then
            done[#done + 1] = { start, stop }
            local tvb = fi.range:tvb()
            local msgs = {}
            walk(tvb, 0, tvb:len(), {}, msgs)
            for _, m in ipairs(msgs) do
                if m.too_deep then
                    -- Deeper than Wireshark's own limit: not decoded (the built-in tree says so).
                elseif REG_TYPES[m.type] then
                    if do_msgs then
                        add_registration(tree, tvb, m, do_148)
                        named[m.type] = true
                    end
                elseif do_148 then
                    add_enable(tree, tvb, m)
                end
            end
        end
    end

    -- "Message Type 36" in the Info column (the built-in fallback text) becomes the name.
    if named[ADDR_REG_INFORM] or named[ADDR_REG_REPLY] then
        local info = tostring(pinfo.cols.info)
        local renamed = info:gsub("Message Type 36%f[%D]", "ADDR-REG-INFORM")
                            :gsub("Message Type 37%f[%D]", "ADDR-REG-REPLY")
        if renamed ~= info then
            pinfo.cols.info:set(renamed)
        end
    end
end

register_postdissector(addrreg)
