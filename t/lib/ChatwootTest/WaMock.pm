package ChatwootTest::WaMock;

# The loopback WhatsApp server (t/mock/wa/server.mjs) as a peer of a
# black-box test: started as the test's own child process, read from its
# `ready {...}` line, and driven through its control API (JSON over HTTP on
# the same port).  It is stopped by ChatwootTest->finish (it is one of the
# test's daemons) or, when a test dies half-way, by DESTROY.
#
#   my $wa = ChatwootTest::WaMock->start($t);
#   $wa->url, $wa->root_key                      for whatsapp_server
#   my $since = $wa->last_seq;
#   ... the helper connects ...
#   my $hs = $wa->wait(type => 'handshake', since => $since);
#   my $c = $wa->wa_contact('4915100000001');          the world (issue 10)
#   $wa->wa_message(from => '4915100000001', message => { conversation => 'hi' });
#   $wa->wait_delivered(id => $id, to => $c->{pn}, since => $since);
#   my $m = $wa->wa_media_message(from => '4915100000001', kind => 'image',
#                                 data => $jpeg, caption => 'hi');   media (issue 11)
#   $wa->media_expire(direct_path => $m->{media}{direct_path});
#
# Each POST wrapper croaks on an answer other than 200 (the mock says why);
# control() gives the status and body to tests that check a refusal.

use strict;
use warnings;

use Carp qw(croak);
use File::Basename qw(dirname);
use File::Spec;
use IO::Select;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use ChatwootTest;

my $MOCK_DIR = File::Spec->rel2abs(dirname(__FILE__) . '/../../mock/wa');

# The mock with its media host over TLS, as WhatsApp's are, on the test's
# certificates (made here unless $t->tls_test_certs made them already):
# `$wa->directive(tls => 1, ca_file => $t->dir . "/ca.pem")` trusts them.
# Options: those of start.
sub start_tls_media {
    my ($class, $t, %o) = @_;
    my $dir = $t->dir;
    $t->tls_test_certs('ca') unless -f "$dir/ca.pem";
    return $class->start($t, %o, args => ['--tls-cert', "$dir/server.pem", '--tls-key', "$dir/server.key",
                                          '--media-host', 'localhost', @{$o{args} // []}]);
}

# Starts the mock for $t.  Options: args (more command-line arguments, e.g.
# ['--max-frame', 4096]), timeout (seconds to wait for the ready line).
sub start {
    my ($class, $t, %o) = @_;
    my $server = "$MOCK_DIR/server.mjs";
    # build.sh installs node and the pinned packages: a missing one is a
    # broken set-up, not a reason to skip.
    -d "$MOCK_DIR/node_modules" or croak "$MOCK_DIR/node_modules is missing: run ./build.sh";
    my $dir = $t->dir;
    my $n = ++$t->{wa_mocks};
    my $key_file = "$dir/wa-mock-$n.key";
    my $log = "$dir/wa-mock-$n.log";
    pipe my $r, my $w or croak "pipe: $!";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        close $r;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $w or POSIX::_exit(126);
        open STDERR, '>>', $log or POSIX::_exit(126);
        exec('node', $server, '--port', $o{port} // 0, '--root-key-out', $key_file,
             @{$o{args} // []}) or POSIX::_exit(127);
    }
    close $w;
    my $self = bless { t => $t, pid => $pid, out => $r, log => $log, key_file => $key_file }, $class;
    # ChatwootTest->finish stops it with the other daemons (TERM, reap).
    push @{$t->{daemons}}, $pid;

    my $line = $self->_read_line($o{timeout} // 20);
    my ($json) = ($line // '') =~ /^ready (\{.*\})$/
        or croak 'the WhatsApp mock did not say ready: ' . ($line // 'nothing')
            . "\n" . $self->log_text;
    my $ready = $self->{ready} = decode_json($json);
    @$self{qw(url control root_key)} = @$ready{qw(url control root_key)};
    ($self->{port}) = $self->{control} =~ m{^http://127\.0\.0\.1:(\d+)/control/$}
        or croak "unexpected control URL $self->{control}";
    open my $fh, '<', $key_file or croak "$key_file: $!";
    my $key = <$fh> // '';
    chomp $key;
    $key eq $self->{root_key} or croak "the root key file says $key, the ready line $self->{root_key}";
    return $self;
}

sub _read_line {
    my ($self, $timeout) = @_;
    my $sel = IO::Select->new($self->{out});
    my $buf = '';
    my $deadline = time + $timeout;
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread $self->{out}, $buf, 4096, length $buf;
        last unless $n;
        return $1 if $buf =~ /^(.*)\n/;
    }
    return length $buf ? $buf : undef;
}

sub pid      { $_[0]{pid} }
sub ready    { $_[0]{ready} }     # the whole ready line (wss_url, tls_port with --tls-cert)
sub url      { $_[0]{url} }       # ws://127.0.0.1:PORT/ws/chat
sub port     { $_[0]{port} }
sub root_key { $_[0]{root_key} }  # 64 hex digits, the public half

# What the mock wrote on stderr (one line per event worth knowing).
sub log_text {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return '';
    local $/;
    return scalar <$fh>;
}

# The `whatsapp_server` directive for this mock.  Options: tls (its wss://
# listener, started with args => ['--tls-cert', PEM, '--tls-key', PEM]),
# host (instead of the one in the URL), ca_file.
sub directive {
    my ($self, %o) = @_;
    my $url = $o{tls} ? $self->{ready}{wss_url} // croak 'the mock has no TLS listener' : $self->{url};
    $url =~ s{^(wss?://)[^:/]+}{$1$o{host}} if defined $o{host};
    return "whatsapp_server $url root_key=$self->{root_key}"
        . (defined $o{ca_file} ? " ca_file=$o{ca_file}" : '') . ';';
}

###########################################################################
# The control API

# One request: (status, decoded JSON body).  $body: a hash ref for POST,
# undef for GET.
sub control {
    my ($self, $name, $body) = @_;
    my @args = defined $body
        ? ('POST', "/control/$name", body => encode_json($body),
           headers => { 'Content-Type' => 'application/json' })
        : ('GET', "/control/$name");
    my ($code, $h, $text) = $self->{t}->http($self->{port}, @args);
    my $json = eval { decode_json($text) };
    croak "the WhatsApp mock answered $code to $args[0] $name with no JSON: $text" unless $json;
    return ($code, $json);
}

sub _ok {
    my ($self, $name, $body) = @_;
    my ($code, $json) = $self->control($name, $body);
    croak "the WhatsApp mock answered $code to $name: " . ($json->{error} // encode_json($json))
        unless $code == 200;
    return $json;
}

sub _query {
    my (%f) = @_;
    my @q = map { "$_=" . _escape($f{$_}) } grep { defined $f{$_} } sort keys %f;
    return @q ? '?' . join('&', @q) : '';
}

sub _escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

# Every event (filters: since, type, conn, tag), in order.
sub events {
    my ($self, %f) = @_;
    my $events = $self->_ok('events' . _query(%f))->{events};
    $self->_seen($events->[-1]) if @$events;
    return $events;
}

sub _seen {
    my ($self, $ev) = @_;
    $self->{seen} = $ev->{seq} if $ev->{seq} > ($self->{seen} // 0);
}

# The seq of the latest event (0 when none): a `since` for what follows.
# Only events newer than the latest one seen travel (a stanza sent by the
# mock is recorded whole, and JSON::PP is slow on megabytes).
sub last_seq {
    my ($self) = @_;
    $self->events(since => $self->{seen} // 0);
    return $self->{seen} // 0;
}

# The first event after `since` that matches the filters, waited for by a
# long poll (the mock answers as soon as it happens); undef when none came
# within `timeout` seconds.  Long polls are cut into pieces the HTTP
# client's read timeout allows.
sub try_wait {
    my ($self, %f) = @_;
    my $timeout = delete $f{timeout} // 10;
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        my $ms = int(1000 * ($left < 20 ? $left : 20));
        $ms = 1 if $ms < 1;
        my ($code, $json) = $self->control('wait' . _query(%f, timeout => $ms));
        if ($code == 200) {
            $self->_seen($json);
            return $json;
        }
        croak "the WhatsApp mock answered $code to wait: " . encode_json($json) unless $code == 504;
        return undef if time >= $deadline;
    }
}

# Like try_wait, but a missing event fails the test (croaks with the
# mock's log, which says what it saw instead).
sub wait {
    my ($self, %f) = @_;
    my $ev = $self->try_wait(%f);
    return $ev if $ev;
    my %shown = %f;
    croak 'no WhatsApp mock event ' . encode_json(\%shown) . " came; the mock's log:\n"
        . $self->log_text;
}

sub connections { $_[0]->_ok('connections')->{connections} }

# Connections past their handshake, logged in as a device, not closed.
sub live_logins {
    my ($self) = @_;
    return [grep { $_->{state} eq 'open' && ($_->{client}{kind} // '') eq 'login' }
            @{$self->connections}];
}

sub _conn { defined $_[0] ? (conn => 0 + $_[0]) : () }

# code: "515", "401", "conflict" or "503"; conn: the latest one unless named.
sub stream_error {
    my ($self, $code, $conn) = @_;
    return $self->_ok('stream-error', { code => "$code", _conn($conn) });
}

sub failure {
    my ($self, $reason, $conn) = @_;
    return $self->_ok('failure', { reason => 0 + ($reason // 405), _conn($conn) });
}

# How the next logins are answered: a <failure> reason, or undef for <success>.
sub login_answer {
    my ($self, $failure) = @_;
    return $self->_ok('login-answer', { failure => defined $failure ? 0 + $failure : undef });
}

# Options: current ("a.b.c": what the page names as client_revision),
# enforce (true: older clients get <failure reason="405">).
sub version {
    my ($self, %o) = @_;
    my %body;
    $body{current} = $o{current} if defined $o{current};
    $body{enforce} = $o{enforce} ? JSON::PP::true : JSON::PP::false if exists $o{enforce};
    return $self->_ok('version', \%body);
}

sub drop {
    my ($self, $conn) = @_;
    return $self->_ok('drop', { _conn($conn) });
}

# The server loses the client's next <message> stanza(s): read and dropped,
# neither processed nor acked, as if the connection died with them in flight
# (event lost {conn, id, retry, node}).  Options: count (1; 0 disarms), id
# (only that message), retry (only retry resends), conn.
sub lose {
    my ($self, %o) = @_;
    my %body = (count => 0 + ($o{count} // 1));
    $body{id} = "$o{id}" if defined $o{id};
    $body{retry} = _bool($o{retry}) if exists $o{retry};
    $body{conn} = 0 + $o{conn} if defined $o{conn};
    return $self->_ok('lose', \%body);
}

# Whether the mock answers the client's pings.
sub pings {
    my ($self, $answer) = @_;
    return $self->_ok('pings', { answer => $answer ? JSON::PP::true : JSON::PP::false });
}

# Stanzas as the mock's JSON nodes; options: compress, split (bytes per
# WebSocket message), tcp (bytes per TCP write), conn.
sub send_nodes {
    my ($self, $nodes, %o) = @_;
    my %body = (nodes => $nodes, _conn($o{conn}));
    $body{compress} = JSON::PP::true if $o{compress};
    $body{$_} = 0 + $o{$_} for grep { $o{$_} } qw(split tcp);
    return $self->_ok('send', \%body);
}

# Hostile bytes at one layer ("stanza", "frame", "stream" or "socket"; see
# server.mjs): hex, or size bytes of fill.  Options: compress, split, conn.
sub raw {
    my ($self, $layer, %o) = @_;
    my %body = (layer => $layer, _conn($o{conn}));
    $body{hex} = $o{hex} if defined $o{hex};
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(size fill split);
    $body{compress} = JSON::PP::true if $o{compress};
    return $self->_ok('raw', \%body);
}

sub cert {
    my ($self, $variant) = @_;
    return $self->_ok('cert', { variant => $variant });
}

# The phone scans $qr.  Options: phone (digits), tamper, platform.
sub scan {
    my ($self, $qr, %o) = @_;
    return $self->_ok('scan', { qr => $qr, %o });
}

sub enter_code {
    my ($self, $code, $conn) = @_;
    return $self->_ok('enter-code', { code => $code, _conn($conn) });
}

sub account {
    my ($self, $phone, %o) = @_;
    my %body = (phone => "$phone");
    $body{passkey} = $o{passkey} ? JSON::PP::true : JSON::PP::false if exists $o{passkey};
    return $self->_ok('account', \%body);
}

sub expire_passkey {
    my ($self, $conn) = @_;
    return $self->_ok('expire-passkey', { _conn($conn) });
}

# The stanzas the mock received (events of type "received") after `since`
# whose node has a child (at any depth) tagged $tag.
sub received_with {
    my ($self, $tag, %f) = @_;
    return [grep { _has_tag($_->{node}, $tag) } @{$self->events(%f, type => 'received')}];
}

# Waits for the first stanza received after `since` (and on `conn`, if
# given) with a child tagged $tag; croaks if none comes within `timeout`.
sub wait_received {
    my ($self, $tag, %f) = @_;
    my $timeout = delete $f{timeout} // 10;
    my $deadline = time + $timeout;
    my $since = $f{since} // 0;
    while ((my $left = $deadline - time) > 0) {
        my $ev = $self->try_wait(%f, since => $since, type => 'received', timeout => $left) or last;
        return $ev if _has_tag($ev->{node}, $tag);
        $since = $ev->{seq};
    }
    croak "the WhatsApp mock received no <$tag>; its log:\n" . $self->log_text;
}

sub _has_tag {
    my ($node, $tag) = @_;
    return 0 unless ref $node eq 'HASH';
    return 1 if ($node->{tag} // '') eq $tag;
    return 0 unless ref $node->{content} eq 'ARRAY';
    return scalar grep { _has_tag($_, $tag) } @{$node->{content}};
}

###########################################################################
# The world: contacts, groups, messages (server.mjs's header has the shapes)

sub _bool { $_[0] ? JSON::PP::true : JSON::PP::false }

# A contact: wa_contact('4915100000001', devices => [0, 2], hosted => [99],
# name => 'Ana', lid => '1234…', requires_token => 1) -> {pn, lid, devices}.
sub wa_contact {
    my ($self, $phone, %o) = @_;
    my %body = (phone => "$phone");
    $body{lid} = "$o{lid}" if defined $o{lid};
    $body{name} = $o{name} if defined $o{name};
    $body{$_} = [map { 0 + $_ } @{$o{$_}}] for grep { $o{$_} } qw(devices hosted);
    $body{requires_token} = _bool($o{requires_token}) if exists $o{requires_token};
    return $self->_ok('contact', \%body);
}

# A contact's new device list; notify => 0 keeps the notification back.
sub wa_contact_devices {
    my ($self, $phone, $devices, %o) = @_;
    my %body = (phone => "$phone", devices => [map { 0 + $_ } @$devices]);
    $body{notify} = _bool($o{notify}) if exists $o{notify};
    $body{hosted} = [map { 0 + $_ } @{$o{hosted}}] if $o{hosted};
    return $self->_ok('contact-devices', \%body);
}

# wa_group(subject => 'Team', addressing_mode => 'lid', participants => [phones], jid => …) -> {jid}
sub wa_group {
    my ($self, %o) = @_;
    my %body = (subject => $o{subject} // 'Group', addressing_mode => $o{addressing_mode} // 'pn',
                participants => [map { "$_" } @{$o{participants} // []}]);
    $body{jid} = $o{jid} if defined $o{jid};
    return $self->_ok('group', \%body);
}

# The group is renamed, w:gp2 <subject> to our companions:
# wa_group_subject($jid, 'New name', author => $phone) -> {jid, subject, notified}.
sub wa_group_subject {
    my ($self, $jid, $subject, %o) = @_;
    my %body = (jid => $jid, subject => $subject);
    $body{author} = "$o{author}" if defined $o{author};
    return $self->_ok('group-subject', \%body);
}

# Members in and out, w:gp2 <remove>/<add> to our companions:
# wa_group_participants($jid, add => [phones], remove => [phones], author => $phone)
# -> {jid, added, removed, participants, notified}.
sub wa_group_participants {
    my ($self, $jid, %o) = @_;
    my %body = (jid => $jid);
    $body{$_} = [map { "$_" } @{$o{$_}}] for grep { $o{$_} } qw(add remove);
    $body{author} = "$o{author}" if defined $o{author};
    return $self->_ok('group-participants', \%body);
}

# The contact reinstalls (new identity key, registration and pre-keys on
# each device): <notification type="encrypt"><identity/> from its LID (or
# addressing => 'pn'); notify => 0 keeps it back -> {pn, lid, devices, notified}.
sub wa_new_identity {
    my ($self, $phone, %o) = @_;
    my %body = (phone => "$phone");
    $body{addressing} = $o{addressing} if defined $o{addressing};
    $body{notify} = _bool($o{notify}) if exists $o{notify};
    return $self->_ok('new-identity', \%body);
}

# A contact writes to us: wa_message(from => $phone, message => {conversation => 'hi'},
# device, chat (a group), addressing, id, t, push_name, garbage ('once'|'always'), conn) -> {id, to}.
sub wa_message {
    my ($self, %o) = @_;
    my %body = (from => "$o{from}");
    $body{$_} = $o{$_} for grep { defined $o{$_} } qw(message media chat addressing id push_name garbage);
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(device t conn);
    return $self->_ok('message', \%body);
}

# Our phone sent something to `chat` (a contact's pn/lid or a group): wa_peer_message(chat => …, message => {…}, id).
sub wa_peer_message {
    my ($self, %o) = @_;
    my %body = (chat => $o{chat});
    $body{$_} = $o{$_} for grep { defined $o{$_} } qw(message media id);
    $body{conn} = 0 + $o{conn} if defined $o{conn};
    return $self->_ok('peer-message', \%body);
}

# A contact's receipt for our messages: wa_receipt(from => $phone, ids => [...], type => 'read', device, chat).
sub wa_receipt {
    my ($self, %o) = @_;
    my %body = (from => "$o{from}", ids => $o{ids}, type => $o{type} // 'delivery');
    $body{chat} = $o{chat} if defined $o{chat};
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(device conn);
    return $self->_ok('receipt', \%body);
}

# A contact's device could not decrypt our message: wa_retry(from => $phone, id => $id, device, fresh_session => 1);
# unknown => 1 for an id our account never sent.  Queued until our companion acks it.
sub wa_retry {
    my ($self, %o) = @_;
    my %body = (from => "$o{from}", id => $o{id});
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(device conn);
    $body{$_} = _bool($o{$_}) for grep { exists $o{$_} } qw(fresh_session unknown);
    return $self->_ok('retry', \%body);
}

# A contact's device loses its sessions with our account (keeps its keys):
# what we send it next it cannot decrypt, and it asks again with retry
# receipts.  wa_forget_session(from => $phone, device => 2) -> {forgotten}.
sub wa_forget_session {
    my ($self, %o) = @_;
    my %body = (from => "$o{from}");
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(device conn);
    return $self->_ok('forget-session', \%body);
}

sub wa_privacy_token {
    my ($self, $phone, %o) = @_;
    return $self->_ok('privacy-token', { phone => "$phone", map { defined $o{$_} ? ($_ => $o{$_}) : () } qw(token_hex t) });
}

sub wa_nct_salt {
    my ($self, $salt_hex) = @_;
    return $self->_ok('nct-salt', { salt_hex => $salt_hex });
}

# wa_restriction(kind => 'reachout_timelock', active => 1, ends => $unix) or (kind => 'new_chat_capping', state => 'CAPPED').
sub wa_restriction {
    my ($self, %o) = @_;
    my %body = (kind => $o{kind}, active => _bool($o{active} // 1));
    $body{$_} = $o{$_} for grep { defined $o{$_} } qw(state enforcement_type);
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(used total);
    $body{ends} = 0 + $o{ends} if defined $o{ends};
    return $self->_ok('restriction', \%body);
}

sub wa_encrypt_count {
    my ($self, $count) = @_;
    return $self->_ok('encrypt-count', { count => 0 + $count });
}

# The next acks' error for a chat (phone => …) or all: wa_ack_policy(error => 463, once => 1); error => undef clears.
sub wa_ack_policy {
    my ($self, %o) = @_;
    my %body = (error => defined $o{error} ? 0 + $o{error} : undef, once => _bool($o{once}));
    $body{phone} = "$o{phone}" if defined $o{phone};
    $body{jid} = $o{jid} if defined $o{jid};
    return $self->_ok('ack-policy', \%body);
}

###########################################################################
# Media (lib/media.mjs; server.mjs's header has the shapes)

# The `media` spec of a POST message from Perl options: kind ('image',
# 'video', 'gif', 'audio', 'ptt', 'document', 'sticker'), data (the raw
# bytes) or file (a path the mock reads), caption, file_name, mimetype,
# view_once, thumbnail (raw JPEG bytes), width, height, seconds, animated,
# forge ('mac'|'file_sha256'|'enc_sha256'), expired (1: 410, or 404),
# media_key (raw 32 bytes), file_length (the length claimed instead of the real one).
sub _media_spec {
    my (%o) = @_;
    require MIME::Base64;
    my %m = (kind => $o{kind} // croak 'media: a kind');
    $m{data} = MIME::Base64::encode_base64($o{data}, '') if defined $o{data};
    $m{thumbnail} = MIME::Base64::encode_base64($o{thumbnail}, '') if defined $o{thumbnail};
    $m{media_key} = MIME::Base64::encode_base64($o{media_key}, '') if defined $o{media_key};
    $m{$_} = "$o{$_}" for grep { defined $o{$_} } qw(file caption file_name mimetype forge);
    $m{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(width height seconds file_length);
    $m{$_} = _bool($o{$_}) for grep { defined $o{$_} } qw(view_once animated);
    $m{expired} = $o{expired} == 404 ? 404 : JSON::PP::true if $o{expired};
    croak 'media: data or file' unless defined $m{data} || defined $m{file};
    return \%m;
}

my @MEDIA_OPTS = qw(kind data file caption file_name mimetype view_once thumbnail width height seconds animated forge expired media_key file_length);

# A contact (or a group member, with chat) sends media, encrypted and
# uploaded by the mock: wa_media_message(from => $phone, kind => 'image',
# data => $bytes, caption => 'hi', chat, device, id, …; message => {…} for
# more fields, e.g. contextInfo) -> {id, to, media => {kind, mms_type,
# direct_path, url, media_key, file_sha256, file_enc_sha256 (base64),
# file_length, enc_length}}.
sub wa_media_message {
    my ($self, %o) = @_;
    my %m = map { exists $o{$_} ? ($_ => delete $o{$_}) : () } @MEDIA_OPTS;
    return $self->wa_message(%o, media => _media_spec(%m));
}

# Our phone sends media to `chat`: wa_peer_media_message(chat => $pn, kind => 'video', data => $bytes).
sub wa_peer_media_message {
    my ($self, %o) = @_;
    my %m = map { exists $o{$_} ? ($_ => delete $o{$_}) : () } @MEDIA_OPTS;
    return $self->wa_peer_message(%o, media => _media_spec(%m));
}

# Our phone's history sync chunk (server.mjs: POST history): wa_history(type =>
# 'recent', conversations => [{jid, name, pn_jid, lid_jid, messages => [{id,
# timestamp, text | media => {kind, data (raw bytes), ...as _media_spec}, from_me,
# participant, push_name}]}], push_names => [{jid, name}], jid_mappings =>
# [{pn_jid, lid_jid}], nct_salt_hex, chunk_order, progress, inline => 1, bomb => N,
# forge => 'mac', from => $contact_phone, id) -> {id, to, inline, inflated_length,
# zlib_length, media => {<id> => {direct_path, media_key, ... (base64)}}, blob}.
sub wa_history {
    my ($self, %o) = @_;
    my %body;
    $body{$_} = $o{$_} for grep { defined $o{$_} } qw(type push_names jid_mappings nct_salt_hex forge id);
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(chunk_order progress bomb conn);
    $body{from} = "$o{from}" if defined $o{from};
    $body{inline} = _bool($o{inline}) if defined $o{inline};
    my @convs;
    for my $c (@{ $o{conversations} // [] }) {
        my %conv = %$c;
        $conv{messages} = [map {
            my %m = %$_;
            $m{from_me} = _bool($m{from_me}) if exists $m{from_me};
            $m{timestamp} = 0 + $m{timestamp};
            $m{media} = _media_spec(%{ $m{media} }) if $m{media};
            \%m
        } @{ $c->{messages} // [] }];
        push @convs, \%conv;
    }
    $body{conversations} = \@convs;
    return $self->_ok('history', \%body);
}

# More of our phone's own history, not sent (server.mjs: POST phone-history):
# what a companion's on-demand request is answered from.  conversations as
# wa_history's (text messages) -> {chats}.
sub phone_history {
    my ($self, %o) = @_;
    my @convs = map {
        my %conv = %$_;
        $conv{messages} = [map {
            my %m = %$_;
            $m{from_me} = _bool($m{from_me}) if exists $m{from_me};
            $m{timestamp} = 0 + $m{timestamp};
            \%m
        } @{ $_->{messages} // [] }];
        \%conv
    } @{ $o{conversations} // [] };
    return $self->_ok('phone-history', { conversations => \@convs });
}

# How media_conn answers: media_conn(ttl => 300, auth_ttl => 21600, hosts =>
# ['localhost:PORT'] (undef: the mock's own), expire_auth => 1 (every auth
# given so far is refused: 401), auth => 1 (a fresh upload auth too, for a
# test's own uploads)) -> {ttl, auth_ttl, hosts, expired_auths, auth}.
sub media_conn {
    my ($self, %o) = @_;
    my %body;
    $body{$_} = 0 + $o{$_} for grep { defined $o{$_} } qw(ttl auth_ttl);
    $body{hosts} = $o{hosts} if exists $o{hosts};
    $body{expire_auth} = JSON::PP::true if $o{expire_auth};
    $body{auth} = JSON::PP::true if $o{auth};
    return $self->_ok('media-conn', \%body);
}

# A blob is gone: media_expire(direct_path => $dp) or (enc_sha256 => $b64);
# status => 404 (default 410) -> {expired => [direct paths], status}.
sub media_expire {
    my ($self, %o) = @_;
    my %body = map { defined $o{$_} ? ($_ => $o{$_}) : () } qw(direct_path enc_sha256);
    $body{status} = 0 + $o{status} if defined $o{status};
    return $self->_ok('media-expire', \%body);
}

# The next `count` media requests fail: media_fail(count => 2, op =>
# 'download'|'upload'|'any', mode => 'status'|'reset', status => 503).
sub media_fail {
    my ($self, %o) = @_;
    my %body = (count => 0 + ($o{count} // 1), op => $o{op} // 'any', mode => $o{mode} // 'status');
    $body{status} = 0 + $o{status} if defined $o{status};
    return $self->_ok('media-fail', \%body);
}

# The next `count` downloads (of direct_path, or any) come wrong: media_serve(mode =>
# 'truncate' (cut short of its Content-Length, then reset) | 'short' (16 bytes
# fewer, a matching Content-Length) | 'corrupt' (one bit flipped) | 'slow' (half,
# then held) | 'full', count => 1).  With op => 'upload', mode 'slow': the next
# `count` uploads are held half read and unanswered (event media-upload-half).
sub media_serve {
    my ($self, %o) = @_;
    my %body = (mode => $o{mode} // croak('media_serve: a mode'), count => 0 + ($o{count} // 1));
    $body{direct_path} = $o{direct_path} if defined $o{direct_path};
    $body{op} = $o{op} if defined $o{op};
    return $self->_ok('media-serve', \%body);
}

# The transfers media_serve(mode => 'slow') holds (a download half sent, an
# upload half read) go on to their end -> {released => N}.
sub media_serve_release { return $_[0]->_ok('media-serve-release', {}) }

# How the phone answers a media retry for message $id: 'success' (re-upload),
# 'not_found', 'decryption_error' or 'general_error' (an <error code>), or
# 'never' (the receipt is read, event media-retry, and no answer comes).
sub media_retry_answer {
    my ($self, $id, $result) = @_;
    return $self->_ok('media-retry-answer', { id => $id, result => $result });
}

# What the media of message $id (sent by our companion) decrypted to, as the
# receiving side checked it: {id, kind, ok, reason, mimetype, file_name,
# sha256 (hex), length, bytes (raw, undef when it did not check)}; undef
# when the mock saw no media message with that id.
sub media_plain {
    my ($self, $id) = @_;
    my ($code, $json) = $self->control('media-plain?id=' . _escape($id));
    return undef if $code == 404;
    croak "the WhatsApp mock answered $code to media-plain: " . ($json->{error} // '') unless $code == 200;
    require MIME::Base64;
    $json->{bytes} = defined $json->{data} ? MIME::Base64::decode_base64(delete $json->{data}) : undef;
    delete $json->{data};
    return $json;
}

# Waits for the receiving side's check of message $id's media (event
# media-received; fields to match as wait_match: ok, kind, since, timeout).
sub wait_media_received {
    my ($self, $id, %f) = @_;
    return $self->wait_match('media-received', id => $id, %f);
}

# Waits for a download of $direct_path's blob (filters as wait_match:
# status, served, since, timeout) -> the media-download event.
sub wait_media_download {
    my ($self, $direct_path, %f) = @_;
    (my $path = $direct_path) =~ s/\?.*//s;
    return $self->wait_match('media-download', path => $path, %f);
}

# Waits for an event of `type` whose fields equal the given ones (since,
# timeout as for wait), e.g. wait_match('delivered', id => $id, to => $jid).
sub wait_match {
    my ($self, $type, %f) = @_;
    my $timeout = delete $f{timeout} // 10;
    my $since = delete $f{since} // 0;
    my $id = $f{id};
    my $deadline = time + $timeout;
    while ((my $left = $deadline - time) > 0) {
        my $ev = $self->try_wait(type => $type, since => $since, (defined $id ? (id => $id) : ()), timeout => $left) or last;
        return $ev unless grep { !defined $ev->{$_} || (ref $ev->{$_} ? encode_json($ev->{$_}) ne encode_json($f{$_}) : $ev->{$_} ne $f{$_}) } keys %f;
        $since = $ev->{seq};
    }
    croak "no WhatsApp mock event $type " . encode_json(\%f) . " came; the mock's log:\n" . $self->log_text;
}

# A message the client sent, decrypted by a device of the world: one event
# per device (filters: id, to, since, timeout).
sub wait_delivered { my ($self, %f) = @_; return $self->wait_match('delivered', %f) }

# A receipt the client sent (filters: id, receipt_type, to, since, timeout).
sub wait_receipt_in { my ($self, %f) = @_; return $self->wait_match('receipt-in', %f) }

# Every `delivered` (and `redelivered`) event of message $id: how often each
# device got it, for exactly-once checks -> { device jid => count }.
sub deliveries {
    my ($self, $id, %f) = @_;
    my %n;
    $n{$_->{to}}++ for grep { $_->{type} =~ /^(?:re)?delivered$/ } @{$self->events(%f, id => $id)};
    return \%n;
}

###########################################################################
# Stopping

# Stops the mock now (TERM, then KILL if it lingers) and reaps it.
sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    # Only a child not reaped yet is ours to signal: a reaped pid may
    # already be another process's.
    if (waitpid($pid, WNOHANG) == 0) {
        kill 'TERM', $pid;
        my $deadline = time + 5;
        while (time < $deadline) {
            last if waitpid($pid, WNOHANG) != 0;
            sleep 0.05;
        }
        if (waitpid($pid, WNOHANG) == 0) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
        }
    }
    $self->{t}{daemons} = [grep { $_ != $pid } @{$self->{t}{daemons} // []}];
    delete $self->{pid};
    close $self->{out} if $self->{out};
    delete $self->{out};
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@, $!);
    $self->stop;
}

1;
