package ChatwootTest::FakeChatwoot;

# A fake Chatwoot (4.15.1) for the bridge's REST client tests: a Mojolicious
# app that answers the application API the bridge uses with the shapes,
# status codes and error bodies of ../../../../shared/chatwoot/CONTRACT.md
# (copied facts, no Chatwoot code), keeps its state in the process, and lets
# a test inspect and steer it through a JSON control API under /__fake/.
#
#   my $fake = ChatwootTest::FakeChatwoot->new(
#       account => 1, token => 'test-api-token',
#       inbox   => { id => 7, name => 'WhatsApp' });
#   $t->run_daemon(sub { $fake->run($port) });
#   $t->wait_port($port);
#
# or ChatwootTest::FakeChatwoot->spawn($t, %options), which returns the port.
#
# Constructor options (all optional):
#   account          account id (1); account_name ('Acme')
#   token            the user's api_access_token ('test-api-token')
#   user             { id => 3, name => 'Ana', email => 'ana@acme.test' }
#   inbox            the API inbox: any inbox JSON field overrides a default
#                    ({ id => 7, name => 'WhatsApp', channel_type =>
#                    'Channel::Api', secret => ..., webhook_url => ...,
#                    lock_to_single_conversation => 1, additional_attributes
#                    => { agent_reply_time_window => 24 } ...})
#   extra_inboxes    more inboxes, same form (a channel_type other than
#                    Channel::Api makes incoming messages fail as in Chatwoot)
#   foreign_accounts account ids that exist but the user is not a member of
#                    (401 "You are not authorized to access this account");
#                    any other account id answers 404
#   flood_limit      CONVERSATION_MESSAGE_PER_MINUTE_LIMIT (200)
#   rate_limit       rack-attack's throttle (0: none): API requests handled
#                    within the last second beyond this many answer 429
#                    (429_plain's answer, fault "rate_limit" in the log) and
#                    do nothing
#   latency_ms       added latency (0): every API request (not the control
#                    API) waits this long on a non-blocking timer before it
#                    is handled, faults included, as if Chatwoot were that
#                    far away; requests still overlap.  A request whose
#                    client left meanwhile is still performed (unless its
#                    fault does nothing) and logged with client_gone
#   seed             seed of the fault RNG (1)
#   frontend_url     FRONTEND_URL for attachment URLs (default: the Host the
#                    request came to)
#   webhooks         1: send webhooks by itself as Chatwoot does (0, off):
#                    each message created (through the API, a conversation
#                    create's message included) is POSTed as message_created,
#                    each one updated (status PATCH, delete, a failed
#                    delivery) as message_updated, to its inbox's webhook_url
#                    when set, signed with the inbox's secret when set
#                    (CONTRACT sections 2 and 4.3: Message#webhook_data, built
#                    when delivered, as Chatwoot's listener builds it).  A
#                    delivery that fails (not 2xx, or no answer within 5 s)
#                    marks the message failed with the error text in
#                    content_attributes.external_error, which is a
#                    message_updated of its own (Trigger#handle_error).  Each
#                    delivery is in the state's webhooks (with event and
#                    message_id)
#
# Control API (JSON in and out; never logged, never faulted):
#   GET  /__fake/state    contacts, contact_inboxes, conversations (with
#                         display_id and every message in order), requests
#                         (method, path, query, status answered, fault, the
#                         parsed params, warnings, user_agent, host (the
#                         Host header), api_token_sent), faults, webhooks, sink
#   POST /__fake/reset    back to the state right after new()
#   GET  /__fake/faults   the rules with their counters
#   POST /__fake/faults   {"rules":[rule,...],"seed":N,"append":false} or a
#                         bare list.  A rule: {method, path_regex, kind,
#                         count | probability, skip, retry_after, delay_ms,
#                         max_s, perform, rst}.  kind is one of
#                         429_plain 429_retry_after 422_too_many 500 502 503
#                         slow timeout reset lost_answer (see _fault).
#   POST /__fake/config   {flood_limit, rate_limit, clock_offset (seconds added to the
#                         clock), seed, frontend_url, latency_ms, webhooks,
#                         inbox: {fields to merge}}
#   POST /__fake/webhook  {url, secret, body (exact string) | payload (object)
#                         + event, timestamp, delivery, timeout}: signs and
#                         POSTs as Chatwoot does (CONTRACT section 2) and
#                         answers {status, error, delivery, timestamp,
#                         signature, body, response_body}
#   POST /__fake/blob     {filename, data (base64), content_type, file_type,
#                         storage_base}: stores a file as ActiveStorage does
#                         and answers its attachment JSON (data_url ...) for a
#                         webhook; with storage_base ("http://localhost:N")
#                         its redirect points there instead (S3-style storage
#                         on another host: this fake under another name)
#   ANY  /__fake/sink     records what it receives (state "sink") and answers
#                         ?status=N (200): a webhook target for tests
#   GET  /__fake/routes   the API routes served, as swagger paths
#
# Fault kinds (a rule fires for the first matching request while its count
# lasts; probability draws from a seeded xorshift RNG; skip lets the first N
# matches through):
#   429_plain        429, text/plain "Retry later\n", no Retry-After (rack-attack)
#   429_retry_after  the same with Retry-After: retry_after (1)
#   422_too_many     422 {"error":"Validation failed: Too many messages"}
#   500              Rails' {"status":500,"error":"Internal Server Error"}
#   502, 503         an nginx error page in front of Chatwoot
#   slow             waits delay_ms (1000), then performs and answers; if the
#                    client left meanwhile the operation still happens
#   timeout          never answers; closes after max_s (60, at most 60) or
#                    when the client gives up; perform => true does the
#                    operation anyway
#   reset            closes with an RST (SO_LINGER 0) without doing anything
#   lost_answer      does the operation, then closes without a byte (FIN, or
#                    RST with rst => true): the retry-makes-a-duplicate case
#
# Where CONTRACT.md leaves a choice, the fake does this:
#   - An empty api_access_token header counts as none (devise's 401 body).
#   - Unknown routes (and known paths with a method Chatwoot does not route)
#     answer 404 before authentication: {"status":404,"error":"Not Found"}
#     when the client accepts JSON, else Rails' HTML 404 page.  Malformed
#     JSON is {"status":400,"error":"Bad Request"}, also before auth.
#   - A body is parsed only with a JSON, urlencoded or multipart
#     Content-Type (as Rails does); any other body is ignored, with a warning
#     in the request log.  Query, body and path params merge as in Rails.
#   - Values are cast as ActiveRecord casts them (numbers to text, "false"
#     to false, "12abc" to the id 12); casts Chatwoot does silently are
#     listed in the request's warnings so tests can assert there are none.
#   - message_type: the four names, or the integers 0..3 when sent as JSON
#     numbers (the enum takes them; the builder then makes the contact the
#     sender); anything else is 422 "'x' is not a valid message_type".  An
#     empty string is 422 "Validation failed: Message type can't be blank".
#   - An invalid conversation status (create, toggle_status) is Rails'
#     enum ArgumentError, which nothing rescues: a 500.  So is a source_id
#     of another contact on contact_inboxes and contact create
#     (RecordNotUnique), and a second contact with identifier "" (the
#     database's unique index, which the validation skips for blanks).
#   - A conversation create whose first message fails is rolled back:
#     RecordInvalid gives the 422 {"message","attributes"} body, anything
#     else a 500.
#   - Contacts filter: keys name, email, phone_number, identifier,
#     country_code, city; comparisons are case-insensitive; an unknown key
#     is 422 {"error":"Invalid attribute key - [key]"} (wording not in
#     CONTRACT).  Blank search q answers an empty page (CONTRACT 5.4).
#   - Lists are ordered by last_activity_at desc (contacts: nulls last),
#     ties by creation.  filter_internal_messages, sort_by, updated_within
#     and conversation_type are accepted and ignored.
#   - snoozed_until is rendered as an ISO time (a raw Rails time).
#   - A string in attachments[] must be the signed id of a blob this fake
#     stored (direct upload), else 422 "ActiveSupport::MessageVerifier::
#     InvalidSignature"; attachments not given as a list is 422 "undefined
#     method 'each' ...".  width and height are null (analysis is async).
#   - Incoming messages reopen resolved and snoozed conversations, set
#     waiting_since and the contact's last_activity_at; the first public
#     outgoing message of the user sets first_reply_created_at.
#
# Things of Chatwoot's this fake does not do: send webhooks other than
# message_created and message_updated (and those only with webhooks => 1:
# conversation, typing and contact events are not sent), create activity
# messages, agent bots and their tokens, teams,
# labels, avatars, conversation PATCH/typing/assignments, inbox create.

use Mojo::Base 'Mojolicious';

use B ();
use Digest::SHA qw(hmac_sha256_hex sha1_hex sha256_hex);
use Exporter qw(import);
use JSON::PP ();
use Mojo::IOLoop;
use Mojo::JSON ();
use Mojo::Server::Daemon;
use Mojo::UserAgent;
use Mojo::Util qw(b64_decode b64_encode url_escape url_unescape);
use POSIX qw(strftime);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes ();
use Time::Local qw(timegm);

our @EXPORT_OK = qw(sign rails_json);

has account          => 1;
has account_name     => 'Acme';
has token            => 'test-api-token';
has user             => sub { {} };
has inbox            => sub { {} };
has extra_inboxes    => sub { [] };
has foreign_accounts => sub { [] };
has flood_limit      => 200;
has rate_limit       => 0;
has seed             => 1;
has frontend_url     => undef;
has latency_ms       => 0;
has webhooks         => 0;

use constant T => JSON::PP::true;
use constant F => JSON::PP::false;

my %MESSAGE_TYPE = (incoming => 0, outgoing => 1, activity => 2, template => 3);
my %MESSAGE_TYPE_NAME = reverse %MESSAGE_TYPE;
my @CONTENT_TYPES = qw(text input_text input_textarea input_email input_select
    cards form article incoming_email input_csat integrations sticker voice_call);
my @MESSAGE_STATUSES = qw(sent delivered read failed);
my @CONVERSATION_STATUSES = qw(open resolved pending snoozed);
my @FAULT_KINDS = qw(429_plain 429_retry_after 422_too_many 500 502 503 slow
    timeout reset lost_answer);

my $CONTACTS_PER_PAGE = 15;
my $CONVERSATIONS_PER_PAGE = 25;
my $CONTACT_CONVERSATIONS = 20;
my $MESSAGE_CONTENT_MAX = 150_000;
my $STRING_COLUMN_MAX = 255;

###########################################################################
# JSON as Rails writes it, and the signing function

# Mojo::JSON decodes as JSON::PP does (JSON::PP::Boolean, numbers as
# numbers), only faster.
my $JSON_IN = bless {}, 'ChatwootTest::FakeChatwoot::Decoder';
sub ChatwootTest::FakeChatwoot::Decoder::decode { Mojo::JSON::decode_json($_[1]) }

# An object whose keys keep the order given (Ruby hashes do): the error
# bodies and the toggle_status answer are written as Chatwoot writes them.
sub _ordered { bless [@_], 'ChatwootTest::FakeChatwoot::Ordered' }

my %ESC = ("\"" => '\\"', "\\" => '\\\\', "\n" => '\\n', "\r" => '\\r', "\t" => '\\t',
           "\f" => '\\f', "\b" => '\\b', '<' => '\\u003c', '>' => '\\u003e',
           '&' => '\\u0026', "\x{2028}" => '\\u2028', "\x{2029}" => '\\u2029');

sub _encode_string {
    my ($s) = @_;
    $s =~ s/(["\\\n\r\t\f\b<>&\x{2028}\x{2029}]|[\x00-\x1f])/$ESC{$1} \/\/ sprintf('\\u%04x', ord $1)/ge;
    return qq{"$s"};
}

sub _encode {
    my ($v) = @_;
    return 'null' unless defined $v;
    my $ref = ref $v;
    if (!$ref) {
        return _is_num($v) ? "$v" : _encode_string($v);
    }
    return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
    return '[' . join(',', map { _encode($_) } @$v) . ']' if $ref eq 'ARRAY';
    if ($ref eq 'ChatwootTest::FakeChatwoot::Ordered') {
        my @kv = @$v;
        my @out;
        while (@kv) {
            my ($k, $x) = splice @kv, 0, 2;
            push @out, _encode_string($k) . ':' . _encode($x);
        }
        return '{' . join(',', @out) . '}';
    }
    if ($ref eq 'HASH') {
        return '{' . join(',', map { _encode_string($_) . ':' . _encode($v->{$_}) } sort keys %$v) . '}';
    }
    return _encode($v->TO_JSON) if $v->can('TO_JSON');
    return _encode_string("$v");
}

# Compact JSON as Rails' to_json writes it (ActiveSupport escapes <, >, &,
# U+2028, U+2029; nothing else beyond JSON's own; "/" is left alone), as
# UTF-8 bytes.  Plain hashes come out with sorted keys, so that answers are
# stable; _ordered objects in their own order.
sub rails_json {
    my ($data) = @_;
    my $s = _encode($data);
    utf8::encode($s);
    return $s;
}

# X-Chatwoot-Signature for a body (bytes) sent at $ts (CONTRACT section 2).
sub sign {
    my ($secret, $ts, $body) = @_;
    utf8::encode($body) if utf8::is_utf8($body);
    return 'sha256=' . hmac_sha256_hex("$ts.$body", $secret);
}

###########################################################################
# Starting

sub startup {
    my ($self) = @_;
    $self->mode('production');
    $self->log->level($ENV{FAKE_CHATWOOT_DEBUG} ? 'debug' : 'fatal');
    $self->max_request_size(256 * 1024 * 1024);
    $self->secrets(['fake-chatwoot']);
    $self->_compile_routes;
    # Random tokens are drawn once, so that /__fake/reset keeps them.
    $self->{pubsub} = _token(24);
    $self->{inbox_specs} = [map {
        {hmac_token => _token(24), secret => _token(24), inbox_identifier => _token(24), %{$_ // {}}}
    } $self->inbox, @{$self->extra_inboxes}];
    $self->_reset;
    # Everything goes through _handle: no static files, no router.
    $self->hook(around_dispatch => sub {
        my ($next, $c) = @_;
        $self->_handle($c);
    });
}

# Blocking: serves on 127.0.0.1:$port until INT or TERM.
sub run {
    my ($self, $port) = @_;
    my $daemon = Mojo::Server::Daemon->new(
        app => $self, listen => ["http://127.0.0.1:$port"], silent => 1,
        inactivity_timeout => 65);
    $daemon->run;
}

# Forks the fake through the harness and waits for it: returns the port.
sub spawn {
    my ($class, $t, %opts) = @_;
    my $port = delete $opts{port} // ChatwootTest::free_port();
    my $fake = $class->new(%opts);
    $t->run_daemon(sub { $fake->run($port) });
    $t->wait_port($port);
    return $port;
}

###########################################################################
# Small helpers for tests: the control API from the outside.

sub _control_ua { Mojo::UserAgent->new(inactivity_timeout => 30) }

sub control {
    my ($class, $port, $method, $path, $data) = @_;
    my $ua = _control_ua();
    my $tx = $ua->build_tx($method => "http://127.0.0.1:$port/__fake/$path"
        => {'Content-Type' => 'application/json'}
        => defined $data ? rails_json($data) : '');
    $tx = $ua->start($tx);
    my $res = $tx->result;
    die "fake control $path answered " . $res->code . ': ' . $res->body
        unless $res->is_success;
    return $JSON_IN->decode($res->body);
}

sub get_state  { $_[0]->control($_[1], GET => 'state') }
sub reset_fake { $_[0]->control($_[1], POST => 'reset') }
sub set_faults { my ($c, $port, @rules) = @_; $c->control($port, POST => 'faults', {rules => \@rules}) }
sub configure  { my ($c, $port, %cfg) = @_; $c->control($port, POST => 'config', \%cfg) }
sub send_webhook { my ($c, $port, %w) = @_; $c->control($port, POST => 'webhook', \%w) }
sub add_blob     { my ($c, $port, %b) = @_; $c->control($port, POST => 'blob', \%b) }

# The fake's messages posted from WhatsApp, by WhatsApp id (the WAID: of
# their source_id): { id => [ {message fields, conversation => display id,
# contact => the contact's identifier}, ... ] }; more than one copy is a
# duplicate.
sub messages_by_waid {
    my ($c, $port) = @_;
    my $s = $c->get_state($port);
    my %contact = map { $_->{id} => $_ } @{$s->{contacts}};
    my %by;
    for my $conv (@{$s->{conversations}}) {
        for my $m (@{$conv->{messages}}) {
            my $src = $m->{source_id} // next;
            next unless $src =~ /^WAID:(.+)$/;
            push @{$by{$1}}, { %$m, conversation => $conv->{display_id} // $conv->{id},
                               contact => $contact{$conv->{contact_id}}{identifier} };
        }
    }
    return \%by;
}

###########################################################################
# State

sub _reset {
    my ($self) = @_;
    my $start = Time::HiRes::time();
    $self->{config} = {
        flood_limit  => $self->flood_limit,
        rate_limit   => $self->rate_limit,
        clock_offset => 0,
        seed         => $self->seed,
        frontend_url => $self->frontend_url,
        latency_ms   => $self->latency_ms,
        webhooks     => $self->webhooks ? T : F,
    };
    $self->_seed_rng($self->seed);
    my %user = (id => 3, name => 'Ana', email => 'ana@acme.test', %{$self->user});
    $self->{me} = \%user;
    $self->{started} = $start;
    $self->{seq} = {
        contact => 1000, contact_inbox => 2000, conversation => 5000,
        display => 0, message => 30000, attachment => 70000, request => 0,
    };
    $self->{contacts} = [];
    $self->{contact_inboxes} = [];
    $self->{conversations} = [];
    $self->{blobs} = {};
    $self->{requests} = [];
    $self->{faults} = [];
    $self->{webhooks} = [];
    $self->{sink} = [];
    $self->{handled} = [];
    my $channel = 2;
    $self->{inboxes} = [map { $self->_make_inbox($_, ++$channel) } @{$self->{inbox_specs}}];
}

my @INBOX_BOOLEANS = qw(greeting_enabled working_hours_enabled enable_email_collect
    csat_survey_enabled enable_auto_assignment allow_messages_after_resolved
    lock_to_single_conversation hmac_mandatory);

sub _make_inbox {
    my ($self, $spec, $channel_id) = @_;
    my $now = $self->_now;
    my %i = (
        id => 7, name => 'WhatsApp', channel_id => $channel_id,
        channel_type => 'Channel::Api', avatar_url => '',
        greeting_enabled => 0, greeting_message => undef,
        working_hours_enabled => 0, enable_email_collect => 1,
        csat_survey_enabled => 0, csat_config => {},
        enable_auto_assignment => 1, auto_assignment_config => {},
        out_of_office_message => undef, timezone => 'UTC',
        callback_webhook_url => undef, allow_messages_after_resolved => 1,
        lock_to_single_conversation => 0, sender_name_type => 'friendly',
        business_name => undef, provider => undef, hmac_mandatory => 0,
        hmac_token => _token(24), secret => _token(24), webhook_url => undef,
        inbox_identifier => _token(24), additional_attributes => {},
        working_hours => [map {
            my $closed = $_ == 0 || $_ == 6;
            { day_of_week => $_, closed_all_day => $closed ? T : F,
              open_hour => $closed ? undef : 9, open_minutes => $closed ? undef : 0,
              close_hour => $closed ? undef : 17, close_minutes => $closed ? undef : 0,
              open_all_day => F }
        } 0 .. 6],
        created_at => $now, updated_at => $now,
        %{$spec // {}},
    );
    for my $k (@INBOX_BOOLEANS) {
        $i{$k} = _truthy($i{$k}) ? T : F;
    }
    $i{id} += 0;
    return \%i;
}

sub _now { Time::HiRes::time() + $_[0]{config}{clock_offset} }

sub _seed_rng {
    my ($self, $seed) = @_;
    my $x = (int($seed // 0) ^ 0x9E3779B9) & 0xFFFFFFFF;
    $self->{rng} = $x || 0x2545F491;
    $self->_rand for 1 .. 4;
}

# xorshift32: deterministic for a seed, independent of Perl's rand.
sub _rand {
    my ($self) = @_;
    my $x = $self->{rng};
    $x ^= ($x << 13) & 0xFFFFFFFF;
    $x ^= $x >> 17;
    $x ^= ($x << 5) & 0xFFFFFFFF;
    $self->{rng} = $x;
    return $x / 4294967296;
}

sub _token {
    my ($n) = @_;
    my @c = ('a' .. 'z', 'A' .. 'Z', 0 .. 9);
    return join '', map { $c[rand @c] } 1 .. $n;
}

sub _uuid {
    my @b = map { int rand 256 } 1 .. 16;
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    my $h = join '', map { sprintf '%02x', $_ } @b;
    return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
        substr($h, 16, 4), substr($h, 20);
}

sub _iso {
    my ($t) = @_;
    return undef unless defined $t;
    my $s = int $t;
    my $ms = int(($t - $s) * 1000 + 1e-6);
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime $s) . sprintf('.%03dZ', $ms);
}

sub _epoch { defined $_[0] ? int($_[0]) + 0 : 0 }

sub _float { 0 + sprintf('%.3f', $_[0]) }

###########################################################################
# Values as Rails sees them

sub _is_bool { defined $_[0] && JSON::PP::is_bool($_[0]) }

# A JSON number (not a string that looks like one).
sub _is_num {
    my ($v) = @_;
    return 0 if !defined $v || ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK) ? 1 : 0;
}

sub _truthy {
    my ($v) = @_;
    return 0 unless defined $v;
    return $v ? 1 : 0 if _is_bool($v) || !ref $v;
    return 1;
}

# Object#present?
sub _present {
    my ($v) = @_;
    return 0 unless defined $v;
    return 1 if _is_num($v);
    return $v ? 1 : 0 if _is_bool($v);
    return scalar(@$v) ? 1 : 0 if ref $v eq 'ARRAY';
    return scalar(%$v) ? 1 : 0 if ref $v eq 'HASH';
    return 1 if ref $v;
    return $v =~ /\S/ ? 1 : 0;
}

# ActiveModel::Type::Boolean: nil and "" are nil, FALSE_VALUES are false,
# anything else is true.
sub _cast_bool {
    my ($v) = @_;
    return undef unless defined $v;
    return $v ? T : F if _is_bool($v);
    return T if ref $v;
    return undef if $v eq '';
    return F if grep { $v eq $_ } qw(0 f F false FALSE off OFF);
    return T;
}

# A string column: numbers become their text, true/false "t"/"f"; an object
# or array is not a permitted scalar and is dropped (undef, with a warning).
sub _cast_string {
    my ($v, $warn, $name) = @_;
    return undef unless defined $v;
    return $v ? 't' : 'f' if _is_bool($v);
    if (ref $v) {
        push @$warn, "$name: an object or array is not a permitted scalar; Rails drops it";
        return undef;
    }
    push @$warn, "$name: a JSON number; Rails stores its text" if _is_num($v);
    return "$v";
}

# An id as ActiveRecord's find casts it: "12abc" is 12, "abc" is nil.
sub _to_id {
    my ($v) = @_;
    return undef unless defined $v;
    return $v ? 1 : 0 if _is_bool($v);
    return undef if ref $v;
    return int($v) if _is_num($v);
    return $1 + 0 if $v =~ /^\s*([+-]?\d+)/;
    return undef;
}

# How Ruby's to_s shows a value in an error message.
sub _ruby_s {
    my ($v) = @_;
    return '' unless defined $v;
    return $v ? 'true' : 'false' if _is_bool($v);
    return rails_json($v) if ref $v;
    return "$v";
}

# A LIKE pattern (%, _, backslash escapes) as a regex.
sub _like_re {
    my ($pattern, $ci) = @_;
    my $re = '';
    my @c = split //, $pattern;
    while (@c) {
        my $ch = shift @c;
        if ($ch eq '\\' && @c) { $re .= quotemeta shift @c }
        elsif ($ch eq '%') { $re .= '.*' }
        elsif ($ch eq '_') { $re .= '.' }
        else { $re .= quotemeta $ch }
    }
    return $ci ? qr/$re/si : qr/$re/s;
}

###########################################################################
# Routes: [method, swagger path, handler, options].  Collection paths come
# before {id} paths, as in Rails' router.

my $A = '/api/v1/accounts/{account_id}';
my $C = "$A/conversations/{conversation_id}";
our @ROUTES = (
    [GET    => '/api/v1/profile',                 'profile', {account => 0}],
    [GET    => "$A/inboxes",                      'inboxes_index'],
    [GET    => "$A/inboxes/{id}",                 'inboxes_show'],
    [POST   => "$A/inboxes",                      'inboxes_create'],
    [GET    => "$A/contacts",                     'contacts_index'],
    [POST   => "$A/contacts",                     'contacts_create'],
    [GET    => "$A/contacts/search",              'contacts_search'],
    [POST   => "$A/contacts/filter",              'contacts_filter'],
    [GET    => "$A/contacts/{id}",                'contacts_show'],
    [PUT    => "$A/contacts/{id}",                'contacts_update'],
    [PATCH  => "$A/contacts/{id}",                'contacts_update',
        {undocumented => 'CONTRACT 5.4: PUT/PATCH contacts/{id}; the swagger lists PUT only'}],
    [GET    => "$A/contacts/{id}/conversations",  'contact_conversations'],
    [POST   => "$A/contacts/{id}/contact_inboxes", 'contact_inboxes_create'],
    [GET    => "$A/conversations/meta",           'conversations_meta'],
    [GET    => "$A/conversations",                'conversations_index'],
    [POST   => "$A/conversations",                'conversations_create'],
    [GET    => $C,                                'conversations_show'],
    [POST   => "$C/toggle_status",                'conversations_toggle_status'],
    [GET    => "$C/messages",                     'messages_index'],
    [POST   => "$C/messages",                     'messages_create'],
    [PATCH  => "$C/messages/{message_id}",        'messages_update',
        {undocumented => 'CONTRACT 5.8: PATCH messages/{id} (status) is not in the swagger'}],
    [PUT    => "$C/messages/{message_id}",        'messages_update',
        {undocumented => 'CONTRACT 5.8: the same update route answers PUT (Rails resources)'}],
    [DELETE => "$C/messages/{message_id}",        'messages_destroy'],
    # ActiveStorage, Rails' own unauthenticated routes (CONTRACT 8).
    [GET => '/rails/active_storage/blobs/redirect/{signed_id}/{filename}',
        'storage_redirect', {auth => 0, account => 0, storage => 1}],
    [GET => '/rails/active_storage/representations/redirect/{signed_id}/{variation_key}/{filename}',
        'storage_redirect', {auth => 0, account => 0, storage => 1}],
    [GET => '/rails/active_storage/disk/{key}/{filename}',
        'storage_disk', {auth => 0, account => 0, storage => 1}],
);

# The API routes served, for the swagger check: [method, path, note].
sub served_routes {
    return map { [$_->[0], $_->[1], $_->[3]{undocumented}] }
        grep { !$_->[3]{storage} } @ROUTES;
}

sub _compile_routes {
    my ($self) = @_;
    my @compiled;
    for my $r (@ROUTES) {
        my ($method, $tpl, $handler, $o) = @$r;
        my @names;
        my $re = '';
        for my $part (split m{(\{[a-z_]+\})}, $tpl) {
            if ($part =~ /^\{([a-z_]+)\}$/) {
                push @names, $1;
                $re .= $1 eq 'filename' ? '(.+)' : '([^/.]+)';
            } else {
                $re .= quotemeta $part;
            }
        }
        $re .= $o->{storage} ? '' : '(?:\.json)?/?';
        push @compiled, {
            method => $method, tpl => $tpl, handler => $handler,
            re => qr/^$re\z/, names => \@names,
            auth => $o->{auth} // 1, account => $o->{account} // 1,
        };
    }
    $self->{routes} = \@compiled;
}

sub _route {
    my ($self, $method, $path) = @_;
    $method = 'GET' if $method eq 'HEAD';
    for my $r (@{$self->{routes}}) {
        next unless $r->{method} eq $method;
        my @v = $path =~ $r->{re} or next;
        my %p;
        @p{@{$r->{names}}} = map { url_unescape($_) } @v;
        return ($r, \%p);
    }
    return;
}

###########################################################################
# Requests

sub _handle {
    my ($self, $c) = @_;
    my $req = $c->req;
    my $method = uc $req->method;
    my $path = $req->url->path->to_string;
    $self->_set_base($c);
    my $ok = eval {
        if ($path =~ m{^/__fake(?:/|$)}) {
            $self->_control($c, $method, $path);
        } else {
            $self->_api_request($c, $method, $path);
        }
        1;
    };
    $self->_internal_error($c, $method, $path, $@) unless $ok;
}

# FRONTEND_URL, or where the request came to: the base of attachment URLs.
sub _set_base {
    my ($self, $c) = @_;
    my $base = $c->req->url->base;
    $self->{base} = $self->{config}{frontend_url}
        // ($base->host ? $base->scheme . '://' . $base->host_port : 'http://127.0.0.1');
}

# An exception in the fake itself: a 500 naming it, and a warning.  $entry
# is the request's log entry when known, else the newest one.
sub _internal_error {
    my ($self, $c, $method, $path, $err, $entry) = @_;
    warn "fake chatwoot: $method $path: $err";
    $entry //= $self->{requests}[-1];
    $entry->{fake_error} = "$err" if $entry && !$entry->{status};
    my $r = _e500();
    $r->{headers}{'X-Fake-Error'} = substr("$err", 0, 200) =~ s/[\r\n]+/ /gr;
    $self->_send($c, undef, $r);
}

sub _api_request {
    my ($self, $c, $method, $path) = @_;
    my $req = $c->req;
    my $entry = {
        seq => ++$self->{seq}{request}, time => _float(Time::HiRes::time()),
        method => $method, path => $path, query => $req->url->query->to_string,
        content_type => $req->headers->content_type, status => undef, fault => undef,
        warnings => [], user_agent => $req->headers->user_agent,
        # Where it was sent (a storage host is this fake under another
        # name) and whether the API token came with it: a test asserts
        # that the token never reaches storage.
        host => $req->headers->host,
        api_token_sent => defined $req->headers->header('api_access_token') ? T : JSON::PP::false,
    };
    push @{$self->{requests}}, $entry;
    my $perform = sub { $self->_perform($c, $method, $path, $entry) };
    my $ms = $self->{config}{latency_ms};
    return $self->_answer($c, $method, $path, $entry, $perform) unless $ms && $ms > 0;
    # Added latency: the request waits on a timer (other requests go on
    # meanwhile), then is handled as if it had just arrived.
    $c->render_later;
    my $tx = $c->tx;
    Mojo::IOLoop->timer($ms / 1000 => sub {
        if ($tx->is_finished || !Mojo::IOLoop->stream($tx->connection // '')) {
            # The client gave up: Chatwoot still does the work once the
            # request has reached it, unless the fault says it does not.
            my $rule = $self->_pick_fault($method, $path);
            $entry->{fault} = $rule->{kind} if $rule;
            $entry->{client_gone} = T;
            if (!$rule || $rule->{kind} =~ /^(?:slow|lost_answer)$/
                || ($rule->{kind} eq 'timeout' && $rule->{perform})) {
                my $r = eval { $perform->() } // _e500();
                $entry->{performed_status} = $r->{status};
            }
            undef $tx;
            return;
        }
        $self->_set_base($c);
        eval { $self->_answer($c, $method, $path, $entry, $perform); 1 }
            or $self->_internal_error($c, $method, $path, $@, $entry);
        undef $tx;
    });
}

sub _answer {
    my ($self, $c, $method, $path, $entry, $perform) = @_;
    if (my $limit = $self->{config}{rate_limit}) {
        # rack-attack's throttle: a sliding second of requests handled.
        my $now = Time::HiRes::time();
        my $h = $self->{handled};
        shift @$h while @$h && $h->[0] <= $now - 1;
        if (@$h >= $limit) {
            $entry->{fault} = 'rate_limit';
            return $self->_send($c, $entry, {
                status => 429, type => 'text/plain', body => "Retry later\n", headers => {} });
        }
        push @$h, $now;
    }
    my $rule = $self->_pick_fault($method, $path);
    return $self->_send($c, $entry, $perform->()) unless $rule;
    return $self->_fault($c, $entry, $rule, $perform);
}

# Routing, body parsing, authentication, the handler: the response.
sub _perform {
    my ($self, $c, $method, $path, $entry) = @_;
    my ($route, $path_params) = $self->_route($method, $path);
    unless ($route) {
        # Rails' router: no route is a 404 before any controller runs.
        $entry->{route} = undef;
        return _not_found_page($c);
    }
    $entry->{route} = "$route->{method} $route->{tpl}";
    my $ctx = {c => $c, entry => $entry, warn => $entry->{warnings},
               path_params => $path_params};
    # Parameter parsing happens before the before_actions (ParamsWrapper):
    # malformed JSON is a 400 even without a token.
    my $bad = $self->_parse_params($c, $ctx);
    return $bad if $bad;
    if ($route->{auth}) {
        my $token = $c->req->headers->header('api_access_token');
        if (!defined $token || $token !~ /\S/) {
            return _json(401, {errors => ['You need to sign in or sign up before continuing.']});
        }
        return _json(401, {error => 'Invalid Access Token'}) unless $token eq $self->token;
    }
    if ($route->{account}) {
        my $id = _to_id($path_params->{account_id});
        if (!defined $id || $id != $self->account) {
            return _json(401, {error => 'You are not authorized to access this account'})
                if defined $id && grep { $_ == $id } @{$self->foreign_accounts};
            return _e404();
        }
    }
    my $handler = "_h_$route->{handler}";
    return $self->$handler($ctx);
}

# Rails' params: query, then the body (JSON, urlencoded or multipart), then
# the path parameters, each later one winning.
sub _parse_params {
    my ($self, $c, $ctx) = @_;
    my $req = $c->req;
    my $query = {};
    my $pairs = $req->url->query->pairs;
    for (my $i = 0; $i < @$pairs; $i += 2) {
        _nest($query, $pairs->[$i], $pairs->[$i + 1]);
    }
    my $body = {};
    my @uploads;
    my $ct = $req->headers->content_type // '';
    my $raw = $req->body;
    if ($ct =~ m{^\s*(?:application/json|text/x-json|application/jsonrequest)\b}i) {
        if ($raw =~ /\S/) {
            my $data = eval { $JSON_IN->decode($raw) };
            if ($@) {
                $ctx->{entry}{body_error} = "malformed JSON";
                return _public_exception(400, 'Bad Request');
            }
            $body = ref $data eq 'HASH' ? $data : {_json => $data};
            push @{$ctx->{warn}}, 'the JSON body is not an object; Rails puts it in _json'
                unless ref $data eq 'HASH';
        }
        $ctx->{entry}{params} = _log_copy($body);
    } elsif ($ct =~ m{^\s*(?:multipart/form-data|application/x-www-form-urlencoded)\b}i) {
        my $bp = $req->body_params->pairs;
        my %logged;
        for (my $i = 0; $i < @$bp; $i += 2) {
            _nest($body, $bp->[$i], $bp->[$i + 1]);
            push @{$logged{$bp->[$i]}}, _log_copy($bp->[$i + 1]);
        }
        for my $u (@{$req->uploads}) {
            my $file = {
                filename => $u->filename,
                content_type => $u->headers->content_type,
                data => $u->asset->slurp,
            };
            $file->{size} = length $file->{data};
            bless $file, 'ChatwootTest::FakeChatwoot::Upload';
            _nest($body, $u->name, $file);
            push @{$logged{$u->name}}, {filename => $file->{filename},
                content_type => $file->{content_type}, size => $file->{size}};
        }
        $ctx->{entry}{params} = {map { $_ => @{$logged{$_}} == 1 ? $logged{$_}[0] : $logged{$_} }
                                 keys %logged};
    } elsif (length $raw) {
        push @{$ctx->{warn}}, "a body with Content-Type '$ct' is not parsed by Rails; it was ignored";
    }
    my %p = (%$query, %$body, %{$ctx->{path_params}});
    $ctx->{params} = \%p;
    return;
}

# The request log keeps parameters, with long strings shortened.
sub _log_copy {
    my ($v) = @_;
    return {map { $_ => _log_copy($v->{$_}) } keys %$v} if ref $v eq 'HASH';
    return [map { _log_copy($_) } @$v] if ref $v eq 'ARRAY';
    return substr($v, 0, 1000) . '...(' . length($v) . ' characters)'
        if defined $v && !ref $v && !_is_num($v) && length $v > 1000;
    return $v;
}

# Rack's nested names: a[b], a[], a[b][] (a[][b] is kept flat).
sub _nest {
    my ($h, $name, $value) = @_;
    my @keys = ($name);
    if ($name =~ /^([^\[\]]+)((?:\[[^\[\]]*\])+)$/) {
        my ($first, $rest) = ($1, $2);
        @keys = ($first, $rest =~ /\[([^\[\]]*)\]/g);
    }
    my $node = $h;
    while (@keys > 1) {
        my $k = shift @keys;
        if ($keys[0] eq '') {
            $node->{$k} = [] unless ref $node->{$k} eq 'ARRAY';
            push @{$node->{$k}}, $value;
            return;
        }
        $node->{$k} = {} unless ref $node->{$k} eq 'HASH';
        $node = $node->{$k};
    }
    $node->{$keys[0]} = $value;
}

sub _send {
    my ($self, $c, $entry, $r) = @_;
    $entry->{status} = $r->{status} if $entry;
    my $res = $c->res;
    $res->code($r->{status});
    $res->headers->remove('Server');
    $res->headers->content_type($r->{type}) if $r->{type};
    my %h = %{$r->{headers} // {}};
    $res->headers->header($_ => $h{$_}) for sort keys %h;
    $res->body($r->{body} // '');
    $c->rendered($r->{status});
}

sub _json {
    my ($status, $data, %headers) = @_;
    return {status => $status, type => 'application/json; charset=utf-8',
            body => rails_json($data), headers => \%headers};
}

sub _e404 { _json(404, {error => 'Resource could not be found'}) }
sub _e422 { _json(422, {error => $_[0]}) }
# ActionDispatch::PublicExceptions' JSON.
sub _public_exception { _json($_[0], _ordered(status => $_[0] + 0, error => $_[1])) }
sub _e500 { _public_exception(500, 'Internal Server Error') }

# RecordInvalid: {"message": full messages joined, "attributes": [...]}.
sub _invalid {
    my ($errors) = @_;
    my (%seen, @attrs);
    for (@$errors) { push @attrs, $_->[0] unless $seen{$_->[0]}++ }
    return _json(422, _ordered(message => join(', ', map { $_->[1] } @$errors),
                               attributes => \@attrs));
}

# ActionDispatch::PublicExceptions: JSON when the client asks for JSON.
sub _not_found_page {
    my ($c) = @_;
    my $accept = $c->req->headers->accept // '';
    return _public_exception(404, 'Not Found')
        if $accept =~ m{application/json} || $c->req->url->path->to_string =~ /\.json$/;
    return {status => 404, type => 'text/html; charset=utf-8',
            body => "<!DOCTYPE html>\n<html>\n<head>\n  <title>The page you were looking for doesn't exist (404)</title>\n</head>\n<body>\n  <h1>The page you were looking for doesn't exist.</h1>\n</body>\n</html>\n"};
}

###########################################################################
# Faults

sub _pick_fault {
    my ($self, $method, $path) = @_;
    for my $r (@{$self->{faults}}) {
        next if defined $r->{count} && $r->{count} <= 0;
        next if defined $r->{method} && $r->{method} ne '*' && uc $r->{method} ne $method;
        next unless $path =~ $r->{re};
        $r->{matched}++;
        next if $r->{matched} <= $r->{skip};
        next if defined $r->{probability} && $self->_rand >= $r->{probability};
        $r->{count}-- if defined $r->{count};
        $r->{fired}++;
        return $r;
    }
    return;
}

my %NGINX_PAGE = (502 => 'Bad Gateway', 503 => 'Service Temporarily Unavailable');

sub _fault {
    my ($self, $c, $entry, $rule, $perform) = @_;
    my $kind = $rule->{kind};
    $entry->{fault} = $kind;
    if ($kind eq '429_plain' || $kind eq '429_retry_after') {
        # rack-attack's default responder; 429_retry_after as if the
        # installation had turned its Retry-After header on.
        return $self->_send($c, $entry, {
            status => 429, type => 'text/plain', body => "Retry later\n",
            headers => $kind eq '429_retry_after' ? {'Retry-After' => $rule->{retry_after}} : {},
        });
    }
    if ($kind eq '422_too_many') {
        return $self->_send($c, $entry, _e422('Validation failed: Too many messages'));
    }
    if ($kind eq '500') {
        return $self->_send($c, $entry, _e500());
    }
    if ($kind eq '502' || $kind eq '503') {
        my $title = "$kind $NGINX_PAGE{$kind}";
        return $self->_send($c, $entry, {
            status => $kind + 0, type => 'text/html',
            body => "<html>\r\n<head><title>$title</title></head>\r\n<body>\r\n"
                . "<center><h1>$title</h1></center>\r\n<hr><center>nginx</center>\r\n"
                . "</body>\r\n</html>\r\n",
        });
    }
    if ($kind eq 'slow') {
        # The operation runs after the delay whether or not the client is
        # still there, as a Rails worker would.
        $c->render_later;
        my $tx = $c->tx;
        Mojo::IOLoop->timer($rule->{delay_ms} / 1000 => sub {
            my $r = eval { $perform->() } // _e500();
            if ($tx->is_finished || !Mojo::IOLoop->stream($tx->connection // '')) {
                $entry->{status} = undef;
                $entry->{performed_status} = $r->{status};
                $entry->{client_gone} = T;
                return;
            }
            $self->_send($c, $entry, $r);
        });
        return;
    }
    if ($kind eq 'timeout') {
        # Never answers; the connection closes when the client gives up or
        # after max_s (at most 60 s).
        if ($rule->{perform}) {
            my $r = $perform->();
            $entry->{performed_status} = $r->{status};
        }
        $c->render_later;
        $c->inactivity_timeout($rule->{max_s});
        my $tx = $c->tx;
        my $id = $tx->connection;
        Mojo::IOLoop->timer($rule->{max_s} => sub {
            undef $tx;
            my $s = Mojo::IOLoop->stream($id);
            $s->close if $s;
        });
        return;
    }
    if ($kind eq 'reset') {
        return $self->_drop($c, 1);
    }
    if ($kind eq 'lost_answer') {
        my $r = $perform->();
        $entry->{performed_status} = $r->{status};
        return $self->_drop($c, $rule->{rst});
    }
    die "unknown fault kind $kind";
}

# Closes the connection without a byte of answer: with RST (SO_LINGER 0)
# or with FIN.
sub _drop {
    my ($self, $c, $rst) = @_;
    $c->render_later;
    my $tx = $c->tx;
    my $id = $tx->connection;
    Mojo::IOLoop->next_tick(sub {
        my $stream = Mojo::IOLoop->stream($id) or return;
        setsockopt($stream->handle, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $rst;
        $stream->close;
        undef $tx;
    });
}

sub _set_faults {
    my ($self, $data) = @_;
    my $rules = ref $data eq 'ARRAY' ? $data : $data->{rules} // [];
    die "rules must be a list\n" unless ref $rules eq 'ARRAY';
    my @new;
    for my $r (@$rules) {
        die "a rule must be an object\n" unless ref $r eq 'HASH';
        my $kind = $r->{kind} // die "a rule needs a kind\n";
        die "unknown kind '$kind' (one of @FAULT_KINDS)\n" unless grep { $_ eq $kind } @FAULT_KINDS;
        my $src = $r->{path_regex} // '.';
        my $re = eval { qr/$src/ } or die "bad path_regex '$src': $@\n";
        die "probability must be between 0 and 1\n"
            if defined $r->{probability} && ($r->{probability} < 0 || $r->{probability} > 1);
        my $max = $r->{max_s} // 60;
        $max = 60 if $max > 60;
        push @new, {
            kind => $kind, method => $r->{method}, path_regex => $src, re => $re,
            count => defined $r->{count} ? int $r->{count} : undef,
            probability => $r->{probability}, skip => int($r->{skip} // 0),
            retry_after => int($r->{retry_after} // 1), delay_ms => $r->{delay_ms} // 1000,
            max_s => $max, perform => _truthy($r->{perform}) ? T : F,
            rst => _truthy($r->{rst}) ? T : F, matched => 0, fired => 0,
        };
    }
    $self->_seed_rng($self->{config}{seed} = $data->{seed})
        if ref $data eq 'HASH' && defined $data->{seed};
    if (ref $data eq 'HASH' && _truthy($data->{append})) {
        push @{$self->{faults}}, @new;
    } else {
        $self->{faults} = \@new;
    }
}

sub _faults_json {
    my ($self) = @_;
    return [map { my %r = %$_; delete $r{re}; \%r } @{$self->{faults}}];
}

###########################################################################
# The control API

sub _control {
    my ($self, $c, $method, $path) = @_;
    my $data = {};
    my $raw = $c->req->body;
    if ($raw =~ /\S/) {
        $data = eval { $JSON_IN->decode($raw) };
        return $self->_send($c, undef, _json(400, {error => "malformed JSON: $@"})) if $@;
    }
    my $r = eval { $self->_control_route($c, $method, $path, $data) };
    if (my $err = $@) {
        chomp $err;
        return $self->_send($c, undef, _json(400, {error => $err}));
    }
    $self->_send($c, undef, $r) if $r;
}

sub _control_route {
    my ($self, $c, $method, $path, $data) = @_;
    if ($path eq '/__fake/state' && $method eq 'GET') {
        return _json(200, $self->_state);
    }
    if ($path eq '/__fake/reset' && $method eq 'POST') {
        $self->_reset;
        return _json(200, {ok => T});
    }
    if ($path eq '/__fake/faults') {
        $self->_set_faults($data) if $method eq 'POST';
        return _json(200, {rules => $self->_faults_json, seed => $self->{config}{seed}});
    }
    if ($path eq '/__fake/config' && $method eq 'POST') {
        die "latency_ms must be a number from 0 to 60000\n"
            if exists $data->{latency_ms}
               && !(defined $data->{latency_ms} && !ref $data->{latency_ms}
                    && $data->{latency_ms} =~ /^\d+(?:\.\d+)?$/ && $data->{latency_ms} <= 60000);
        for my $k (qw(flood_limit rate_limit clock_offset frontend_url latency_ms)) {
            $self->{config}{$k} = $data->{$k} if exists $data->{$k};
        }
        $self->{config}{webhooks} = _truthy($data->{webhooks}) ? T : F if exists $data->{webhooks};
        $self->_seed_rng($self->{config}{seed} = $data->{seed}) if defined $data->{seed};
        if (ref $data->{inbox} eq 'HASH') {
            my $inbox = $self->{inboxes}[0];
            my %merged = (%$inbox, %{$data->{inbox}});
            %$inbox = %{$self->_make_inbox(\%merged, $inbox->{channel_id})};
        }
        return _json(200, {config => $self->{config}});
    }
    if ($path eq '/__fake/routes' && $method eq 'GET') {
        return _json(200, [map { {method => $_->[0], path => $_->[1], undocumented => $_->[2]} }
                           served_routes()]);
    }
    if ($path eq '/__fake/blob' && $method eq 'POST') {
        # A stored file and the attachment JSON a webhook carries for it.
        # storage_base: its redirect goes there (an S3-style storage host,
        # e.g. this fake under another name) instead of to this fake's own
        # base; file_type as Chatwoot gives it (image, audio, video, file).
        die "blob needs data (base64) and filename\n"
            unless defined $data->{data} && defined $data->{filename};
        my $blob = $self->_store_blob({filename => $data->{filename},
                                       content_type => $data->{content_type},
                                       data => b64_decode($data->{data})});
        $blob->{storage_base} = $data->{storage_base} if defined $data->{storage_base};
        my ($ext) = $blob->{filename} =~ /\.([^.]+)$/;
        my $a = {id => ++$self->{seq}{attachment}, message_id => $data->{message_id} // 0,
                 file_type => $data->{file_type} // _file_type($blob->{declared_type}),
                 filename => $blob->{filename}, extension => $ext, signed_id => $blob->{signed_id},
                 variation => $blob->{variation}, content_type => $blob->{content_type},
                 file_size => length $blob->{data}};
        return _json(200, $self->_attachment_json($a));
    }
    if ($path eq '/__fake/webhook' && $method eq 'POST') {
        $self->_send_webhook($c, $data);
        return;
    }
    if ($path =~ m{^/__fake/sink}) {
        my $h = $c->req->headers->to_hash;
        my $body = $c->req->body;
        my $text = $body;
        utf8::decode($text);
        push @{$self->{sink}}, {method => $method, path => $path, headers => $h, body => $text};
        my $status = $c->req->url->query->param('status') // 200;
        return _json($status, {});
    }
    return _json(404, {error => "no control route $method $path"});
}

sub _state {
    my ($self) = @_;
    return {
        account => {id => $self->account + 0, name => $self->account_name},
        user => $self->_user_push,
        inboxes => [map { $self->_inbox_json($_) } @{$self->{inboxes}}],
        contacts => [map { $self->_contact_state($_) } @{$self->{contacts}}],
        contact_inboxes => [map { $self->_contact_inbox_record($_) } @{$self->{contact_inboxes}}],
        conversations => [map { $self->_conversation_state($_) } @{$self->{conversations}}],
        requests => $self->{requests},
        faults => $self->_faults_json,
        webhooks => $self->{webhooks},
        sink => $self->{sink},
        config => $self->{config},
    };
}

sub _contact_state {
    my ($self, $ct) = @_;
    my $j = $self->_contact_json($ct, 1);
    $j->{updated_at} = _epoch($ct->{updated_at});
    return $j;
}

sub _conversation_state {
    my ($self, $cv) = @_;
    my $ci = $self->_find_contact_inbox_by_id($cv->{contact_inbox_id});
    return {
        display_id => $cv->{display_id} + 0, internal_id => $cv->{pk} + 0,
        inbox_id => $cv->{inbox_id} + 0, contact_id => $cv->{contact_id} + 0,
        contact_inbox_id => $cv->{contact_inbox_id} + 0, source_id => $ci->{source_id},
        status => $cv->{status}, snoozed_until => _iso($cv->{snoozed_until}),
        assignee_id => $cv->{assignee_id}, uuid => $cv->{uuid},
        additional_attributes => $cv->{additional_attributes},
        custom_attributes => $cv->{custom_attributes},
        created_at => _epoch($cv->{created_at}),
        last_activity_at => _epoch($cv->{last_activity_at}),
        messages => [map {
            my $m = $_;
            my $j = $self->_message_json($m);
            $j->{sender_type} = $m->{sender_type};
            $j->{sender_id} = $m->{sender_id};
            $j->{updated_at} = _iso($m->{updated_at});
            for my $i (0 .. $#{$m->{attachments}}) {
                my $a = $m->{attachments}[$i];
                $j->{attachments}[$i]{file_name} = $a->{filename};
                $j->{attachments}[$i]{sha256} = $a->{sha256};
            }
            $j;
        } @{$cv->{messages}}],
    };
}

###########################################################################
# Webhooks as Chatwoot sends them (CONTRACT section 2)

sub _send_webhook {
    my ($self, $c, $w) = @_;
    my $url = $w->{url} // die "webhook needs a url\n";
    my $body;
    if (defined $w->{body} && !ref $w->{body}) {
        $body = $w->{body};
        utf8::encode($body);
    } else {
        # payload.to_json with the event merged in last.
        my $payload = {%{$w->{payload} // $w->{body} // {}}};
        my $event = $w->{event} // delete $payload->{event};
        delete $payload->{event};
        $body = rails_json($payload);
        if (defined $event) {
            $body =~ s/\}\z//;
            $body .= ($body eq '{' ? '' : ',') . '"event":' . rails_json($event) . '}';
        }
    }
    $c->render_later;
    my $tx = $c->tx;
    $self->_post_webhook($url, $w->{secret}, $body, timestamp => $w->{timestamp},
                         delivery => $w->{delivery}, timeout => $w->{timeout}, done => sub {
        my ($record) = @_;
        $self->_send($c, undef, _json(200, $record)) if $tx;
        undef $tx;
    });
}

# POSTs $body (bytes) to $url as Chatwoot's Webhooks::Trigger does: the
# headers, the signature over "ts.body" when $secret is not blank, a fresh
# delivery id.  Records the delivery in the state's webhooks and returns
# the record; `done` is called with it once the target answered or failed
# (status: the HTTP status or undef; error: Chatwoot's error text).
sub _post_webhook {
    my ($self, $url, $secret, $body, %o) = @_;
    my $ts = $o{timestamp} // int(Time::HiRes::time());
    my $delivery = $o{delivery} // _uuid();
    my %h = ('Content-Type' => 'application/json', Accept => 'application/json',
             'X-Chatwoot-Delivery' => $delivery);
    if (defined $secret && $secret =~ /\S/) {
        $h{'X-Chatwoot-Timestamp'} = "$ts";
        $h{'X-Chatwoot-Signature'} = sign($secret, $ts, $body);
    }
    my $timeout = $o{timeout} // 5;
    my $ua = $self->{webhook_ua}{$timeout} //= Mojo::UserAgent->new(
        connect_timeout => $timeout, inactivity_timeout => $timeout,
        request_timeout => $timeout, max_redirects => 10, max_connections => 0);
    my $record = {url => $url, delivery => $delivery, timestamp => "$ts",
                  signature => $h{'X-Chatwoot-Signature'}, body => $body,
                  status => undef, error => undef, %{$o{record} // {}}};
    utf8::decode($record->{body});
    push @{$self->{webhooks}}, $record;
    $ua->post($url => \%h => $body => sub {
        my ($ua2, $wtx) = @_;
        my $res = $wtx->res;
        if (my $err = $wtx->error) {
            $record->{status} = $err->{code} ? $err->{code} + 0 : undef;
            $record->{error} = $err->{code} ? "$err->{code} " . ($res->message // '') : $err->{message};
        } else {
            $record->{status} = $res->code + 0;
        }
        my $rb = $res->body;
        utf8::decode($rb);
        $record->{response_body} = $rb;
        $o{done}->($record) if $o{done};
    });
    return $record;
}

###########################################################################
# Webhooks the fake sends by itself (option webhooks): message_created and
# message_updated to the API inbox's webhook_url, as WebhookListener and
# Webhooks::Trigger do (CONTRACT sections 2, 3 and 4.3)

# A message event: delivered on the next turn of the loop, after the
# request that made it has been answered (Chatwoot's listener runs in a
# job), with the payload built then from the state at that moment.
sub _message_event {
    my ($self, $event, $m) = @_;
    return unless _truthy($self->{config}{webhooks});
    # Message#webhook_sendable?: incoming, outgoing and template; private
    # notes are sent too.
    return if $m->{message_type} == 2;
    my $epoch = $self->{started};
    Mojo::IOLoop->next_tick(sub {
        # A reset meanwhile forgot the message.
        return unless $self->{started} == $epoch;
        my ($cv) = grep { $_->{pk} == $m->{conversation_pk} } @{$self->{conversations}};
        return unless $cv && grep { $_ == $m } @{$cv->{messages}};
        my $inbox = $self->_inbox_of($cv);
        return unless $inbox && $inbox->{channel_type} eq 'Channel::Api'
            && defined $inbox->{webhook_url} && $inbox->{webhook_url} =~ /\S/;
        my $body = rails_json(_ordered(@{$self->_message_webhook($m, $cv)}, event => $event));
        $self->_post_webhook($inbox->{webhook_url}, $inbox->{secret}, $body,
                             record => {event => $event, message_id => $m->{id} + 0},
                             done => sub { $self->_webhook_failed($m, $cv, $event, $_[0]) });
    });
}

# Trigger#handle_error for the API inbox callback: a failed delivery of a
# message event marks the message failed with the error text
# (Messages::StatusUpdateService), which is a message_updated of its own;
# marking it again with the same text changes nothing and fires nothing.
sub _webhook_failed {
    my ($self, $m, $cv, $event, $record) = @_;
    return if defined $record->{status} && $record->{status} >= 200 && $record->{status} < 300;
    my $error = $record->{error} // "$record->{status}";
    return if $m->{status} eq 'failed' && ($m->{content_attributes}{external_error} // '') eq $error;
    return unless grep { $_ == $m } @{$cv->{messages}};
    $m->{status} = 'failed';
    $m->{content_attributes} = {%{$m->{content_attributes}}, external_error => $error};
    $m->{updated_at} = $self->_now;
    $self->_message_event(message_updated => $m);
}

# Messages::WebhookContentNormalizer: Markdown hard breaks (a backslash
# before a newline) become plain newlines, trailing newlines go.
sub _webhook_content {
    my ($content) = @_;
    return $content unless defined $content;
    $content =~ s/\\\n/\n/g;
    $content =~ s/\n+\z//;
    return $content;
}

# Message#webhook_data, in its key order, as a list of pairs.
sub _message_webhook {
    my ($self, $m, $cv) = @_;
    my @j = (
        account => $self->_account_webhook,
        additional_attributes => $m->{additional_attributes},
        content_attributes => $m->{content_attributes},
        content_type => $m->{content_type},
        content => _webhook_content($m->{content}),
        conversation => $self->_conversation_webhook($cv),
        created_at => _iso($m->{created_at}),
        id => $m->{id} + 0,
        inbox => {id => $cv->{inbox_id} + 0, name => $self->_inbox_of($cv)->{name}},
        message_type => $MESSAGE_TYPE_NAME{$m->{message_type}},
        private => $m->{private},
        sender => $self->_sender_webhook($m),
        source_id => $m->{source_id},
    );
    push @j, attachments => [map { $self->_attachment_json($_) } @{$m->{attachments}}]
        if @{$m->{attachments}};
    return \@j;
}

sub _account_webhook { {id => $_[0]->account + 0, name => $_[0]->account_name} }

# User#webhook_data for an agent; Contact#webhook_data (no type) for a
# contact.
sub _sender_webhook {
    my ($self, $m) = @_;
    if ($m->{sender_type} eq 'Contact') {
        my $ct = $self->_find_contact($m->{sender_id}) or return undef;
        return _ordered(
            account => $self->_account_webhook,
            additional_attributes => $ct->{additional_attributes}, avatar => '',
            custom_attributes => $ct->{custom_attributes}, email => $ct->{email},
            id => $ct->{id} + 0, identifier => $ct->{identifier}, name => $ct->{name},
            phone_number => $ct->{phone_number}, thumbnail => '', blocked => $ct->{blocked});
    }
    my $u = $self->{me};
    return _ordered(id => $u->{id} + 0, name => $u->{name}, email => $u->{email}, type => 'user');
}

# Conversation#webhook_data (CONTRACT 4.2): push_data and the account; its
# messages holds the newest non-activity, non-private message, if any.
sub _conversation_webhook {
    my ($self, $cv) = @_;
    my $inbox = $self->_inbox_of($cv);
    my $ci = $self->_find_contact_inbox_by_id($cv->{contact_inbox_id});
    my ($last) = grep { $_->{message_type} != 2 && !$_->{private} } reverse @{$cv->{messages}};
    my @last;
    if ($last) {
        my $push = $self->_message_push($last, $cv);
        $push->{content} = $push->{processed_message_content} = _webhook_content($last->{content});
        @last = ($push);
    }
    my $assigned = defined $cv->{assignee_id};
    return _ordered(
        additional_attributes => $cv->{additional_attributes},
        can_reply => $self->_can_reply($cv),
        channel => $inbox->{channel_type},
        contact_inbox => $self->_contact_inbox_record($ci),
        id => $cv->{display_id} + 0,
        inbox_id => $cv->{inbox_id} + 0,
        messages => \@last,
        labels => [],
        meta => _ordered(
            sender => $self->_contact_push($self->_contact_of($cv)),
            assignee => $assigned ? $self->_user_push : undef,
            assignee_type => $assigned ? 'User' : undef,
            team => undef,
            hmac_verified => $ci->{hmac_verified}),
        status => $cv->{status},
        custom_attributes => $cv->{custom_attributes},
        snoozed_until => _iso($cv->{snoozed_until}),
        unread_count => $self->_unread($cv),
        first_reply_created_at => _epoch($cv->{first_reply_created_at}) || undef,
        priority => $cv->{priority},
        waiting_since => _epoch($cv->{waiting_since}),
        agent_last_seen_at => _epoch($cv->{agent_last_seen_at}),
        contact_last_seen_at => _epoch($cv->{contact_last_seen_at}),
        last_activity_at => _epoch($cv->{last_activity_at}),
        timestamp => _epoch($cv->{last_activity_at}),
        created_at => _epoch($cv->{created_at}),
        updated_at => _float($cv->{updated_at}),
        account => $self->_account_webhook,
    );
}

###########################################################################
# Finders

sub _find_inbox {
    my ($self, $id) = @_;
    $id = _to_id($id);
    return unless defined $id;
    my ($i) = grep { $_->{id} == $id } @{$self->{inboxes}};
    return $i;
}

sub _find_contact {
    my ($self, $id) = @_;
    $id = _to_id($id);
    return unless defined $id;
    my ($ct) = grep { $_->{id} == $id } @{$self->{contacts}};
    return $ct;
}

sub _find_contact_inbox_by_id {
    my ($self, $id) = @_;
    my ($ci) = grep { $_->{id} == $id } @{$self->{contact_inboxes}};
    return $ci;
}

sub _find_conversation {
    my ($self, $display_id) = @_;
    my $id = _to_id($display_id);
    return unless defined $id;
    my ($cv) = grep { $_->{display_id} == $id } @{$self->{conversations}};
    return $cv;
}

sub _contact_of { $_[0]->_find_contact($_[1]{contact_id}) }
sub _inbox_of { $_[0]->_find_inbox($_[1]{inbox_id}) }

###########################################################################
# Renderers

sub _user_push {
    my ($self) = @_;
    my $u = $self->{me};
    return {id => $u->{id} + 0, name => $u->{name}, available_name => $u->{name},
            avatar_url => '', type => 'user', availability_status => 'online',
            thumbnail => ''};
}

sub _inbox_slim {
    my ($self, $i) = @_;
    return {id => $i->{id} + 0, avatar_url => $i->{avatar_url}, channel_id => $i->{channel_id} + 0,
            name => $i->{name}, channel_type => $i->{channel_type}, provider => $i->{provider}};
}

# app/views/api/v1/models/_inbox.json.jbuilder, as administrators see it.
sub _inbox_json {
    my ($self, $i) = @_;
    my %j = map { $_ => $i->{$_} } qw(avatar_url name channel_type greeting_enabled
        greeting_message working_hours_enabled enable_email_collect csat_survey_enabled
        csat_config enable_auto_assignment auto_assignment_config out_of_office_message
        working_hours timezone callback_webhook_url allow_messages_after_resolved
        lock_to_single_conversation sender_name_type business_name provider);
    $j{id} = $i->{id} + 0;
    $j{channel_id} = $i->{channel_id} + 0;
    # Widget keys: null outside web widget inboxes.
    $j{$_} = undef for qw(website_url widget_color website_token web_widget_script
        welcome_title welcome_tagline reply_time selected_feature_flags);
    if ($i->{channel_type} eq 'Channel::Api') {
        $j{$_} = $i->{$_} for qw(hmac_token secret webhook_url inbox_identifier
            additional_attributes hmac_mandatory);
    }
    return \%j;
}

# The inbox record with every column (contact create's contact_inbox.inbox).
sub _inbox_record {
    my ($self, $i) = @_;
    my %j = map { $_ => $i->{$_} } qw(name channel_type enable_auto_assignment
        greeting_enabled greeting_message working_hours_enabled out_of_office_message
        timezone enable_email_collect csat_survey_enabled allow_messages_after_resolved
        auto_assignment_config lock_to_single_conversation sender_name_type
        business_name csat_config);
    $j{id} = $i->{id} + 0;
    $j{channel_id} = $i->{channel_id} + 0;
    $j{account_id} = $self->account + 0;
    $j{email_address} = undef;
    $j{portal_id} = undef;
    $j{created_at} = _iso($i->{created_at});
    $j{updated_at} = _iso($i->{updated_at});
    return \%j;
}

sub _contact_inbox_record {
    my ($self, $ci) = @_;
    return {id => $ci->{id} + 0, contact_id => $ci->{contact_id} + 0,
            inbox_id => $ci->{inbox_id} + 0, source_id => $ci->{source_id},
            created_at => _iso($ci->{created_at}), updated_at => _iso($ci->{updated_at}),
            hmac_verified => $ci->{hmac_verified}, pubsub_token => $ci->{pubsub_token}};
}

# app/views/api/v1/models/_contact.json.jbuilder
sub _contact_json {
    my ($self, $ct, $with_inboxes) = @_;
    my %j = (
        additional_attributes => $ct->{additional_attributes},
        availability_status => 'offline',
        email => $ct->{email}, id => $ct->{id} + 0, name => $ct->{name},
        phone_number => $ct->{phone_number}, blocked => $ct->{blocked},
        identifier => $ct->{identifier}, thumbnail => '',
        custom_attributes => $ct->{custom_attributes},
        created_at => _epoch($ct->{created_at}),
    );
    $j{last_activity_at} = _epoch($ct->{last_activity_at}) if defined $ct->{last_activity_at};
    if ($with_inboxes) {
        $j{contact_inboxes} = [map {
            {source_id => $_->{source_id}, inbox => $self->_inbox_slim($self->_inbox_of($_))}
        } grep { $_->{contact_id} == $ct->{id} } @{$self->{contact_inboxes}}];
    }
    return \%j;
}

sub _contact_push {
    my ($self, $ct) = @_;
    return {additional_attributes => $ct->{additional_attributes},
            custom_attributes => $ct->{custom_attributes}, email => $ct->{email},
            id => $ct->{id} + 0, identifier => $ct->{identifier}, name => $ct->{name},
            phone_number => $ct->{phone_number}, thumbnail => '', blocked => $ct->{blocked},
            type => 'contact'};
}

sub _sender_push {
    my ($self, $m) = @_;
    if ($m->{sender_type} eq 'Contact') {
        my $ct = $self->_find_contact($m->{sender_id});
        return $ct ? $self->_contact_push($ct) : undef;
    }
    return $self->_user_push;
}

sub _attachment_json {
    my ($self, $a) = @_;
    my $base = $self->{base};
    my $name = url_escape(Mojo::Util::encode("UTF-8", $a->{filename}), '^A-Za-z0-9\-._~');
    my $data_url = "$base/rails/active_storage/blobs/redirect/$a->{signed_id}/$name";
    my %j = (
        id => $a->{id} + 0, message_id => $a->{message_id} + 0, file_type => $a->{file_type},
        account_id => $self->account + 0, extension => $a->{extension},
        content_type => $a->{content_type}, data_url => $data_url, thumb_url => '',
        file_size => $a->{file_size} + 0, width => undef, height => undef,
    );
    if ($a->{file_type} eq 'image') {
        $j{thumb_url} = "$base/rails/active_storage/representations/redirect/$a->{signed_id}/"
            . $a->{variation} . "/$name";
    }
    if ($a->{file_type} eq 'audio') {
        $j{data_url} .= '?disposition=inline';
        $j{transcribed_text} = '';
    }
    return \%j;
}

# app/views/api/v1/models/_message.json.jbuilder
sub _message_json {
    my ($self, $m, $echo_id) = @_;
    my %j = (
        id => $m->{id} + 0, content => $m->{content}, inbox_id => $m->{inbox_id} + 0,
        conversation_id => $m->{display_id} + 0, message_type => $m->{message_type} + 0,
        content_type => $m->{content_type}, status => $m->{status},
        content_attributes => $m->{content_attributes}, created_at => _epoch($m->{created_at}),
        private => $m->{private}, source_id => $m->{source_id},
        sender => $self->_sender_push($m),
    );
    $j{echo_id} = $echo_id if defined $echo_id;
    $j{attachments} = [map { $self->_attachment_json($_) } @{$m->{attachments}}]
        if @{$m->{attachments}};
    return \%j;
}

# Message#push_event_data: every column, with the changes of CONTRACT 4.4.
sub _message_push {
    my ($self, $m, $cv) = @_;
    my $ci = $self->_find_contact_inbox_by_id($cv->{contact_inbox_id});
    my %j = (
        id => $m->{id} + 0, content => $m->{content}, account_id => $self->account + 0,
        inbox_id => $m->{inbox_id} + 0, conversation_id => $m->{display_id} + 0,
        message_type => $m->{message_type} + 0, created_at => _epoch($m->{created_at}),
        updated_at => _iso($m->{updated_at}), private => $m->{private}, status => $m->{status},
        source_id => $m->{source_id}, content_type => $m->{content_type},
        content_attributes => $m->{content_attributes}, sender_type => $m->{sender_type},
        sender_id => $m->{sender_id} + 0, external_source_ids => {},
        additional_attributes => $m->{additional_attributes},
        processed_message_content => $m->{content}, sentiment => {},
        conversation => {
            assignee_id => $cv->{assignee_id}, unread_count => $self->_unread($cv),
            last_activity_at => _epoch($cv->{last_activity_at}),
            contact_inbox => {source_id => $ci->{source_id}},
        },
        sender => $self->_sender_push($m),
    );
    $j{attachments} = [map { $self->_attachment_json($_) } @{$m->{attachments}}]
        if @{$m->{attachments}};
    return \%j;
}

sub _unread {
    my ($self, $cv) = @_;
    my $seen = $cv->{agent_last_seen_at};
    return 0 + grep { $_->{message_type} == 0 && (!defined $seen || $_->{created_at} > $seen) }
        @{$cv->{messages}};
}

sub _can_reply {
    my ($self, $cv) = @_;
    my $inbox = $self->_inbox_of($cv);
    my $window = ($inbox->{additional_attributes} // {})->{agent_reply_time_window};
    return T unless $window;
    my ($last) = grep { $_->{message_type} == 0 } reverse @{$cv->{messages}};
    return F unless $last;
    return $self->_now - $last->{created_at} < $window * 3600 ? T : F;
}

# app/views/api/v1/conversations/partials/_conversation.json.jbuilder
sub _conversation_json {
    my ($self, $cv) = @_;
    my $ct = $self->_contact_of($cv);
    my $inbox = $self->_inbox_of($cv);
    my $ci = $self->_find_contact_inbox_by_id($cv->{contact_inbox_id});
    my @msgs = @{$cv->{messages}};
    my ($last_non_activity) = grep { $_->{message_type} != 2 } reverse @msgs;
    my %meta = (sender => $self->_contact_json($ct, 0), channel => $inbox->{channel_type},
                hmac_verified => $ci->{hmac_verified});
    if (defined $cv->{assignee_id}) {
        $meta{assignee} = $self->_user_push;
        $meta{assignee_type} = 'User';
    }
    return {
        meta => \%meta, id => $cv->{display_id} + 0,
        messages => @msgs ? [$self->_message_push($msgs[-1], $cv)] : [],
        account_id => $self->account + 0, uuid => $cv->{uuid},
        additional_attributes => $cv->{additional_attributes},
        custom_attributes => $cv->{custom_attributes}, inbox_id => $cv->{inbox_id} + 0,
        labels => [], muted => F, status => $cv->{status},
        snoozed_until => _iso($cv->{snoozed_until}), can_reply => $self->_can_reply($cv),
        priority => $cv->{priority}, sla_policy_id => undef,
        agent_last_seen_at => _epoch($cv->{agent_last_seen_at}),
        assignee_last_seen_at => _epoch($cv->{assignee_last_seen_at}),
        contact_last_seen_at => _epoch($cv->{contact_last_seen_at}),
        created_at => _epoch($cv->{created_at}), timestamp => _epoch($cv->{last_activity_at}),
        first_reply_created_at => _epoch($cv->{first_reply_created_at}),
        last_activity_at => _epoch($cv->{last_activity_at}),
        waiting_since => _epoch($cv->{waiting_since}),
        updated_at => _float($cv->{updated_at}),
        unread_count => $self->_unread($cv),
        last_non_activity_message => $last_non_activity
            ? $self->_message_push($last_non_activity, $cv) : undef,
    };
}

###########################################################################
# Profile and inboxes

sub _h_profile {
    my ($self, $ctx) = @_;
    my $u = $self->{me};
    return _json(200, {
        access_token => $self->token, account_id => $self->account + 0,
        available_name => $u->{name}, avatar_url => '', confirmed => T,
        display_name => undef, message_signature => undef, email => $u->{email},
        id => $u->{id} + 0, inviter_id => undef, name => $u->{name}, provider => 'email',
        pubsub_token => $self->{pubsub}, role => 'administrator', ui_settings => {},
        uid => $u->{email}, type => undef,
        accounts => [{
            id => $self->account + 0, name => $self->account_name, status => 'active',
            role => 'administrator', permissions => ['administrator'],
            availability => 'online', availability_status => 'online', auto_offline => T,
            active_at => _iso($self->{started}), onboarding_step => undef,
        }],
    });
}

sub _h_inboxes_index {
    my ($self, $ctx) = @_;
    return _json(200, {payload => [map { $self->_inbox_json($_) } @{$self->{inboxes}}]});
}

# POST inboxes (administrators only; CONTRACT 5.3).  Only the API channel
# is made here; other types answer as a Chatwoot without their provider
# setup would, with a 422.
sub _h_inboxes_create {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    return _json(401, {error => 'You are not authorized to do this action'})
        if ($self->user->{role} // 'administrator') ne 'administrator';
    my $channel = $p->{channel};
    return _e422('param is missing or the value is empty: channel') unless ref $channel eq 'HASH';
    my $type = $channel->{type} // '';
    return _e422('Invalid channel type') unless $type eq 'api';
    my $name = $p->{name};
    return _json(422, {message => "Name can't be blank", attributes => ['name']})
        unless defined $name && !ref $name && length $name;
    my $url = $channel->{webhook_url};
    return _json(422, {message => 'Webhook url is too long (maximum is 2048 characters)',
                       attributes => ['webhook_url']})
        if defined $url && length $url > 2048;
    my $max = 0;
    $_->{id} > $max and $max = $_->{id} for @{$self->{inboxes}};
    my $inbox = $self->_make_inbox({id => $max + 1, name => "$name", webhook_url => $url},
                                   scalar(@{$self->{inboxes}}) + 1);
    push @{$self->{inboxes}}, $inbox;
    return _json(200, $self->_inbox_json($inbox));
}

sub _h_inboxes_show {
    my ($self, $ctx) = @_;
    my $inbox = $self->_find_inbox($ctx->{params}{id}) or return _e404();
    return _json(200, $self->_inbox_json($inbox));
}

###########################################################################
# Contacts

my @CONTACT_STRINGS = qw(name email phone_number identifier);

# The permitted contact attributes of a request, cast as Rails casts them.
sub _contact_attrs {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my %a;
    for my $k (@CONTACT_STRINGS) {
        next unless exists $p->{$k};
        my $v = _cast_string($p->{$k}, $ctx->{warn}, $k);
        next if !defined $v && ref $p->{$k};
        $a{$k} = $v;
    }
    $a{blocked} = _cast_bool($p->{blocked}) // F if exists $p->{blocked};
    for my $k (qw(additional_attributes custom_attributes)) {
        next unless exists $p->{$k};
        if (ref $p->{$k} eq 'HASH') {
            $a{$k} = $p->{$k};
        } elsif (defined $p->{$k}) {
            push @{$ctx->{warn}}, "$k: not an object; Rails drops it";
        }
    }
    push @{$ctx->{warn}}, 'avatar_url is not fetched by this fake' if exists $p->{avatar_url};
    return \%a;
}

# Contact's before_validation and validations (CONTRACT 5.4, app/models/contact.rb).
sub _validate_contact {
    my ($self, $ct) = @_;
    $ct->{email} = defined $ct->{email} && $ct->{email} =~ /\S/ ? lc $ct->{email} : undef;
    $ct->{additional_attributes} = {} unless _present($ct->{additional_attributes});
    $ct->{custom_attributes} = {} unless _present($ct->{custom_attributes});
    my @e;
    my %label = (name => 'Name', email => 'Email', phone_number => 'Phone number',
                 identifier => 'Identifier');
    for my $k (@CONTACT_STRINGS) {
        push @e, [$k, "$label{$k} is too long (maximum is $STRING_COLUMN_MAX characters)"]
            if defined $ct->{$k} && length $ct->{$k} > $STRING_COLUMN_MAX;
    }
    my @others = grep { !defined $ct->{id} || $_->{id} != $ct->{id} } @{$self->{contacts}};
    if (_present($ct->{email})) {
        push @e, ['email', 'Email has already been taken']
            if grep { defined $_->{email} && lc $_->{email} eq lc $ct->{email} } @others;
        push @e, ['email', 'Email Invalid email']
            unless $ct->{email} =~ /\A[^@ \t\r\n\f\x0B]+@[^@ \t\r\n\f\x0B]+\z/;
    }
    if (_present($ct->{identifier})) {
        push @e, ['identifier', 'Identifier has already been taken']
            if grep { defined $_->{identifier} && $_->{identifier} eq $ct->{identifier} } @others;
    }
    if (_present($ct->{phone_number})) {
        push @e, ['phone_number', 'Phone number has already been taken']
            if grep { defined $_->{phone_number} && $_->{phone_number} eq $ct->{phone_number} } @others;
        # Anchored at the end only, as in Chatwoot.
        push @e, ['phone_number', 'Phone number should be in e164 format']
            unless $ct->{phone_number} =~ /\+[1-9][0-9]{1,14}\z/;
    }
    return \@e;
}

# The database's unique index on (identifier, account_id) also holds for
# "", which the validation skips: RecordNotUnique, a 500.
sub _identifier_clash {
    my ($self, $ct) = @_;
    return 0 unless defined $ct->{identifier};
    return scalar grep { $_->{id} != ($ct->{id} // -1) && defined $_->{identifier}
                         && $_->{identifier} eq $ct->{identifier} } @{$self->{contacts}};
}

sub _new_contact_inbox {
    my ($self, $contact, $inbox, $source_id, $hmac_verified) = @_;
    my $now = $self->_now;
    my $ci = {id => ++$self->{seq}{contact_inbox}, contact_id => $contact->{id},
              inbox_id => $inbox->{id}, source_id => $source_id,
              hmac_verified => $hmac_verified ? T : F, pubsub_token => _token(24),
              created_at => $now, updated_at => $now};
    push @{$self->{contact_inboxes}}, $ci;
    return $ci;
}

# ContactInboxBuilder: the existing (contact, inbox, source_id) row, a new
# one, or 'taken' when another contact holds the source_id in that inbox.
sub _build_contact_inbox {
    my ($self, $contact, $inbox, $source_id, $hmac_verified) = @_;
    if (!_present($source_id)) {
        # For an API inbox a random UUID (other channels derive it; the fake
        # does the same for all).
        return $self->_new_contact_inbox($contact, $inbox, _uuid(), $hmac_verified);
    }
    my ($existing) = grep { $_->{inbox_id} == $inbox->{id} && $_->{source_id} eq $source_id }
        @{$self->{contact_inboxes}};
    if ($existing) {
        return 'taken' if $existing->{contact_id} != $contact->{id};
        return $existing;
    }
    return $self->_new_contact_inbox($contact, $inbox, $source_id, $hmac_verified);
}

sub _source_id_param {
    my ($ctx, $v) = @_;
    return undef unless defined $v;
    return _cast_string($v, $ctx->{warn}, 'source_id');
}

sub _h_contacts_create {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $attrs = $self->_contact_attrs($ctx);
    my $now = $self->_now;
    my $ct = {
        id => undef, name => '', email => undef, phone_number => undef, identifier => undef,
        blocked => F, additional_attributes => {}, custom_attributes => {},
        created_at => $now, updated_at => $now, last_activity_at => undef,
        %$attrs,
    };
    $ct->{name} //= '';
    my $errors = $self->_validate_contact($ct);
    return _invalid($errors) if @$errors;
    return _e500() if $self->_identifier_clash($ct);
    # One transaction: an unknown inbox rolls the contact back.
    my ($inbox, $ci);
    if (_present($p->{inbox_id})) {
        $inbox = $self->_find_inbox($p->{inbox_id}) or return _e404();
    } elsif (exists $p->{source_id}) {
        push @{$ctx->{warn}}, 'source_id without inbox_id makes no contact_inbox';
    }
    $ct->{id} = ++$self->{seq}{contact};
    push @{$self->{contacts}}, $ct;
    if ($inbox) {
        $ci = $self->_build_contact_inbox($ct, $inbox, _source_id_param($ctx, $p->{source_id}),
                                          _truthy(_cast_bool($p->{hmac_verified})));
        if (!ref $ci) {
            # RecordNotUnique is not mapped to a 4xx here.
            pop @{$self->{contacts}};
            $self->{seq}{contact}--;
            return _e500();
        }
    }
    return _json(200, {payload => {
        contact => $self->_contact_json($ct, 1),
        contact_inbox => {
            inbox => $inbox ? $self->_inbox_record($inbox) : undef,
            source_id => $ci ? $ci->{source_id} : undef,
        },
    }});
}

sub _with_inboxes {
    my ($ctx) = @_;
    my $v = $ctx->{params}{include_contact_inboxes};
    return 1 unless defined $v;
    return 0 if _is_bool($v) ? !$v : $v eq 'false';
    return 1;
}

sub _h_contacts_show {
    my ($self, $ctx) = @_;
    my $ct = $self->_find_contact($ctx->{params}{id}) or return _e404();
    return _json(200, {payload => $self->_contact_json($ct, _with_inboxes($ctx))});
}

sub _h_contacts_update {
    my ($self, $ctx) = @_;
    my $ct = $self->_find_contact($ctx->{params}{id}) or return _e404();
    my $attrs = $self->_contact_attrs($ctx);
    my %next = %$ct;
    for my $k (keys %$attrs) {
        if ($k eq 'additional_attributes' || $k eq 'custom_attributes') {
            # Merged into the existing values, not replaced.
            $next{$k} = {%{$ct->{$k} // {}}, %{$attrs->{$k}}};
        } else {
            $next{$k} = $attrs->{$k};
        }
    }
    my $errors = $self->_validate_contact(\%next);
    return _invalid($errors) if @$errors;
    return _e500() if $self->_identifier_clash(\%next);
    $next{updated_at} = $self->_now;
    %$ct = %next;
    return _json(200, {payload => $self->_contact_json($ct, _with_inboxes($ctx))});
}

sub _resolved_contacts {
    my ($self) = @_;
    return grep { _present($_->{email}) || _present($_->{phone_number}) || _present($_->{identifier}) }
        @{$self->{contacts}};
}

my %CONTACT_SORT = map { $_ => 1 } qw(name email phone_number last_activity_at created_at);

# Default: last_activity_at DESC NULLS LAST, then creation order.
sub _sort_contacts {
    my ($self, $ctx, @list) = @_;
    my $sort = $ctx->{params}{sort} // '-last_activity_at';
    my $desc = $sort =~ s/^-//;
    $sort = 'last_activity_at' unless $CONTACT_SORT{$sort};
    return sort {
        my ($x, $y) = ($a->{$sort}, $b->{$sort});
        my $c = (defined $x ? 0 : 1) <=> (defined $y ? 0 : 1);
        if (!$c && defined $x) {
            $c = $sort =~ /_at$/ ? $x <=> $y : lc $x cmp lc $y;
            $c = -$c if $desc;
        }
        $c || $a->{id} <=> $b->{id};
    } @list;
}

sub _page {
    my ($ctx) = @_;
    my $p = $ctx->{params}{page};
    my $n = _to_id($p) // 1;
    $n = 1 if $n < 1;
    # current_page echoes the parameter as given, or the integer 1.
    my $echo = defined $p && !ref $p ? (_is_num($p) ? $p + 0 : "$p") : 1;
    return ($n, $echo);
}

sub _h_contacts_index {
    my ($self, $ctx) = @_;
    my @all = $self->_sort_contacts($ctx, $self->_resolved_contacts);
    @all = () if _present($ctx->{params}{labels});
    my ($page, $echo) = _page($ctx);
    my @slice = grep { defined } @all[($page - 1) * $CONTACTS_PER_PAGE .. $page * $CONTACTS_PER_PAGE - 1];
    my $wi = _with_inboxes($ctx);
    return _json(200, {meta => {count => scalar @all, current_page => $echo},
                       payload => [map { $self->_contact_json($_, $wi) } @slice]});
}

sub _h_contacts_search {
    my ($self, $ctx) = @_;
    my $q = $ctx->{params}{q};
    my ($page, $echo) = _page($ctx);
    if (!_present($q) || ref $q) {
        # The 422 Chatwoot means to give is never rendered (CONTRACT 5.4).
        push @{$ctx->{warn}}, 'blank q: Chatwoot renders an empty result';
        return _json(200, {meta => {count => 0, current_page => $echo, has_more => F},
                           payload => []});
    }
    my $ci = _like_re($q, 1);
    my $cs = _like_re($q, 0);
    my @hits = grep {
        (defined $_->{name} && $_->{name} =~ $ci) || (defined $_->{email} && $_->{email} =~ $ci)
        || (defined $_->{phone_number} && $_->{phone_number} =~ $ci)
        || (defined $_->{identifier} && $_->{identifier} =~ $cs)
    } $self->_resolved_contacts;
    @hits = $self->_sort_contacts($ctx, @hits);
    my @slice = grep { defined } @hits[($page - 1) * $CONTACTS_PER_PAGE .. $page * $CONTACTS_PER_PAGE - 1];
    my $wi = _with_inboxes($ctx);
    return _json(200, {
        meta => {count => scalar @slice, current_page => $echo,
                 has_more => @hits > $page * $CONTACTS_PER_PAGE ? T : F},
        payload => [map { $self->_contact_json($_, $wi) } @slice],
    });
}

my @TEXT_OPS = qw(equal_to not_equal_to contains does_not_contain);
my %FILTER_KEYS = (
    name         => [\@TEXT_OPS, sub { $_[0]{name} }],
    email        => [\@TEXT_OPS, sub { $_[0]{email} }],
    phone_number => [\@TEXT_OPS, sub { $_[0]{phone_number} }],
    identifier   => [[qw(equal_to not_equal_to)], sub { $_[0]{identifier} }],
    country_code => [[qw(equal_to not_equal_to)], sub { $_[0]{additional_attributes}{country_code} }],
    city         => [\@TEXT_OPS, sub { $_[0]{additional_attributes}{city} }],
);

sub _filter_match {
    my ($value, $op, $values) = @_;
    my @v = map { lc _ruby_s($_) } @$values;
    my $x = defined $value ? lc $value : undef;
    if ($op eq 'equal_to') { return defined $x && grep { $x eq $_ } @v }
    if ($op eq 'not_equal_to') { return !defined $x || !grep { $x eq $_ } @v }
    my $hit = defined $x && grep { index($x, $_) >= 0 } @v;
    return $op eq 'contains' ? $hit : !$hit;
}

sub _h_contacts_filter {
    my ($self, $ctx) = @_;
    my $payload = $ctx->{params}{payload};
    return _e422('param is missing or the value is empty: payload')
        unless ref $payload eq 'ARRAY' && @$payload;
    my @conds;
    for my $f (@$payload) {
        return _e422('Invalid filter payload') unless ref $f eq 'HASH';
        my $key = $f->{attribute_key} // '';
        my $spec = $FILTER_KEYS{$key}
            or return _e422("Invalid attribute key - [$key]");
        my $op = $f->{filter_operator} // '';
        return _e422("Invalid operator. The allowed operators for $key are ["
                     . join(',', @{$spec->[0]}) . ']')
            unless grep { $_ eq $op } @{$spec->[0]};
        my $values = ref $f->{values} eq 'ARRAY' ? $f->{values} : [$f->{values}];
        push @conds, [$spec->[1], $op, $values, uc($f->{query_operator} // '')];
    }
    # SQL precedence: AND binds tighter than OR.
    my @groups = ([]);
    for my $i (0 .. $#conds) {
        push @{$groups[-1]}, $conds[$i];
        push @groups, [] if $i < $#conds && $conds[$i][3] eq 'OR';
    }
    my @hits = grep {
        my $ct = $_;
        grep {
            my $g = $_;
            !grep { !_filter_match($_->[0]->($ct), $_->[1], $_->[2]) } @$g;
        } @groups;
    } @{$self->{contacts}};
    @hits = $self->_sort_contacts($ctx, @hits);
    my ($page, $echo) = _page($ctx);
    my @slice = grep { defined } @hits[($page - 1) * $CONTACTS_PER_PAGE .. $page * $CONTACTS_PER_PAGE - 1];
    return _json(200, {meta => {count => scalar @hits, current_page => $echo},
                       payload => [map { $self->_contact_json($_, 1) } @slice]});
}

sub _h_contact_inboxes_create {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $ct = $self->_find_contact($p->{id}) or return _e404();
    my $inbox = $self->_find_inbox($p->{inbox_id}) or return _e404();
    my $ci = $self->_build_contact_inbox($ct, $inbox, _source_id_param($ctx, $p->{source_id}),
                                         _truthy(_cast_bool($p->{hmac_verified})));
    # Another contact's source_id: RecordNotUnique, not mapped to a 4xx.
    return _e500() unless ref $ci;
    return _json(200, {source_id => $ci->{source_id}, inbox => $self->_inbox_slim($inbox)});
}

sub _h_contact_conversations {
    my ($self, $ctx) = @_;
    my $ct = $self->_find_contact($ctx->{params}{id}) or return _e404();
    my @list = sort { $b->{last_activity_at} <=> $a->{last_activity_at} || $b->{pk} <=> $a->{pk} }
        grep { $_->{contact_id} == $ct->{id} } @{$self->{conversations}};
    splice @list, $CONTACT_CONVERSATIONS if @list > $CONTACT_CONVERSATIONS;
    return _json(200, {payload => [map { $self->_conversation_json($_) } @list]});
}

###########################################################################
# Conversations

sub _parse_time {
    my ($v) = @_;
    return undef unless _present($v) && !ref $v;
    return $v + 0 if _is_num($v) || $v =~ /^\d+(?:\.\d+)?$/;
    if ($v =~ /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?\s*(Z|[+-]\d\d:?\d\d)?$/) {
        my $t = timegm($6 // 0, $5, $4, $3, $2 - 1, $1);
        if (defined $7 && $7 ne 'Z') {
            my ($sgn, $h, $m) = $7 =~ /([+-])(\d\d):?(\d\d)/;
            $t -= ($sgn eq '-' ? -1 : 1) * ($h * 3600 + $m * 60);
        }
        return $t;
    }
    return undef;
}

sub _h_conversations_create {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $ci;
    my $created_ci;
    if (_present($p->{contact_id}) && _present($p->{inbox_id})) {
        my $ct = $self->_find_contact($p->{contact_id}) or return _e404();
        my $inbox = $self->_find_inbox($p->{inbox_id}) or return _e404();
        my $before = @{$self->{contact_inboxes}};
        $ci = $self->_build_contact_inbox($ct, $inbox, _source_id_param($ctx, $p->{source_id}),
                                          _truthy(_cast_bool($p->{hmac_verified})));
        return _e422('source_id should be unique') unless ref $ci;
        $created_ci = @{$self->{contact_inboxes}} > $before;
    } else {
        # The old lookup by source_id alone.
        my $sid = _source_id_param($ctx, $p->{source_id});
        ($ci) = grep { defined $sid && $_->{source_id} eq $sid } @{$self->{contact_inboxes}};
        return _e404() unless $ci;
    }
    my $contact = $self->_find_contact($ci->{contact_id});
    my $inbox = $self->_find_inbox($ci->{inbox_id});
    my $rollback = sub {
        if ($created_ci) {
            pop @{$self->{contact_inboxes}};
            $self->{seq}{contact_inbox}--;
        }
    };
    if (_truthy($inbox->{lock_to_single_conversation})) {
        my ($last) = grep { $_->{contact_inbox_id} == $ci->{id} } reverse @{$self->{conversations}};
        return _json(200, $self->_conversation_json($last)) if $last;
    }
    my $status = 'open';
    if (_present($p->{status})) {
        my $s = _ruby_s($p->{status});
        unless (grep { $s eq $_ } @CONVERSATION_STATUSES) {
            # An ArgumentError from the enum; nothing rescues it.
            push @{$ctx->{warn}}, "'$s' is not a valid status";
            $rollback->();
            return _e500();
        }
        $status = $s;
    }
    $status = 'resolved' if _truthy($contact->{blocked});
    my $assignee;
    if (_present($p->{assignee_id})) {
        if ((_to_id($p->{assignee_id}) // -1) == $self->{me}{id}) {
            $assignee = $self->{me}{id} + 0;
        } else {
            push @{$ctx->{warn}}, 'assignee_id: only the token user exists in this fake; ignored';
        }
    }
    push @{$ctx->{warn}}, 'team_id: no teams in this fake; ignored' if _present($p->{team_id});
    my $now = $self->_now;
    my $cv = {
        pk => ++$self->{seq}{conversation}, display_id => ++$self->{seq}{display},
        inbox_id => $inbox->{id}, contact_id => $contact->{id}, contact_inbox_id => $ci->{id},
        uuid => _uuid(), status => $status,
        snoozed_until => $status eq 'snoozed' ? _parse_time($p->{snoozed_until}) : undef,
        assignee_id => $assignee, priority => undef,
        additional_attributes => ref $p->{additional_attributes} eq 'HASH' ? $p->{additional_attributes} : {},
        custom_attributes => ref $p->{custom_attributes} eq 'HASH' ? $p->{custom_attributes} : {},
        created_at => $now, updated_at => $now, last_activity_at => $now,
        waiting_since => undef, first_reply_created_at => undef,
        agent_last_seen_at => undef, assignee_last_seen_at => undef, contact_last_seen_at => undef,
        messages => [],
    };
    push @{$self->{conversations}}, $cv;
    if (_present($p->{message})) {
        # Created in the same transaction.
        my $mp = ref $p->{message} eq 'HASH' ? $p->{message} : {};
        my ($m, $err) = $self->_build_message($ctx, $cv, $mp);
        if ($err) {
            pop @{$self->{conversations}};
            $self->{seq}{conversation}--;
            $self->{seq}{display}--;
            $rollback->();
            return $err->{invalid} ? _invalid($err->{invalid}) : _e500();
        }
    }
    return _json(200, $self->_conversation_json($cv));
}

sub _h_conversations_show {
    my ($self, $ctx) = @_;
    my $cv = $self->_find_conversation($ctx->{params}{conversation_id}) or return _e404();
    return _json(200, $self->_conversation_json($cv));
}

# ConversationFinder: the filtered set before the assignee_type split.
sub _conversation_base {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my @list = @{$self->{conversations}};
    my $status = $p->{status} // 'open';
    @list = grep { $_->{status} eq _ruby_s($status) } @list unless $status eq 'all';
    if (_present($p->{inbox_id})) {
        my $id = _to_id($p->{inbox_id}) // -1;
        @list = grep { $_->{inbox_id} == $id } @list;
    }
    @list = () if _present($p->{team_id}) || _present($p->{labels});
    if (_present($p->{source_id})) {
        my $sid = _ruby_s($p->{source_id});
        @list = grep { $self->_find_contact_inbox_by_id($_->{contact_inbox_id})->{source_id} eq $sid } @list;
    }
    if (_present($p->{q}) && !ref $p->{q}) {
        my $re = _like_re($p->{q}, 1);
        @list = grep { grep { defined $_->{content} && $_->{content} =~ $re } @{$_->{messages}} } @list;
    }
    return @list;
}

sub _conversation_counts {
    my ($self, @list) = @_;
    my $me = $self->{me}{id};
    my $mine = grep { defined $_->{assignee_id} && $_->{assignee_id} == $me } @list;
    my $assigned = grep { defined $_->{assignee_id} } @list;
    return {mine_count => $mine + 0, assigned_count => $assigned + 0,
            unassigned_count => @list - $assigned, all_count => scalar @list};
}

sub _h_conversations_index {
    my ($self, $ctx) = @_;
    my @list = $self->_conversation_base($ctx);
    my $meta = $self->_conversation_counts(@list);
    my $type = $ctx->{params}{assignee_type} // 'all';
    my $me = $self->{me}{id};
    @list = grep { defined $_->{assignee_id} && $_->{assignee_id} == $me } @list if $type eq 'me';
    @list = grep { !defined $_->{assignee_id} } @list if $type eq 'unassigned';
    @list = grep { defined $_->{assignee_id} } @list if $type eq 'assigned';
    @list = sort { $b->{last_activity_at} <=> $a->{last_activity_at} || $b->{pk} <=> $a->{pk} } @list;
    my ($page) = _page($ctx);
    my @slice = grep { defined } @list[($page - 1) * $CONVERSATIONS_PER_PAGE .. $page * $CONVERSATIONS_PER_PAGE - 1];
    return _json(200, {data => {meta => $meta,
                                payload => [map { $self->_conversation_json($_) } @slice]}});
}

sub _h_conversations_meta {
    my ($self, $ctx) = @_;
    return _json(200, {meta => $self->_conversation_counts($self->_conversation_base($ctx))});
}

sub _h_conversations_toggle_status {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $cv = $self->_find_conversation($p->{conversation_id}) or return _e404();
    my $status;
    if (_present($p->{status})) {
        $status = _ruby_s($p->{status});
        unless (grep { $status eq $_ } @CONVERSATION_STATUSES) {
            # An ArgumentError from the enum; nothing rescues it.
            push @{$ctx->{warn}}, "'$status' is not a valid status";
            return _e500();
        }
    } else {
        $status = $cv->{status} eq 'open' ? 'resolved' : 'open';
    }
    $cv->{status} = $status;
    $cv->{snoozed_until} = $status eq 'snoozed' ? _parse_time($p->{snoozed_until}) : undef;
    $cv->{updated_at} = $self->_now;
    return _json(200, _ordered(meta => {}, payload => _ordered(
        success => T, conversation_id => $cv->{display_id} + 0, current_status => $status,
        snoozed_until => _iso($cv->{snoozed_until}),
    )));
}

###########################################################################
# Messages

sub _file_type {
    my ($ct) = @_;
    $ct //= '';
    return 'image' if $ct =~ m{^image/(?:jpeg|jpg|png|gif|bmp|webp)$}i;
    return 'video' if $ct =~ m{^video/(?:ogg|mp4|webm|quicktime)$}i;
    return 'audio' if $ct =~ m{audio/}i;
    return 'file';
}

# Messages::MessageBuilder#perform and Message's validations.  Returns the
# message, or (undef, {invalid => [[attr, full message], ...]}) for
# RecordInvalid, or (undef, {error => text}) for any other exception.
sub _build_message {
    my ($self, $ctx, $cv, $p) = @_;
    my $inbox = $self->_inbox_of($cv);
    my $warn = $ctx->{warn};
    # params[:message_type] || 'outgoing'
    my $type = $p->{message_type};
    my $type_is_num = _is_num($type);
    $type = 'outgoing' if !defined $type || (_is_bool($type) && !$type);
    if ($inbox->{channel_type} ne 'Channel::Api' && !ref $type && !$type_is_num && $type eq 'incoming') {
        return (undef, {error => 'Incoming messages are only allowed in Api inboxes'});
    }
    my $type_num;
    if ($type_is_num) {
        return (undef, {error => "'$type' is not a valid message_type"})
            unless $type == int $type && $type >= 0 && $type <= 3;
        # The enum takes its integer values too; the builder compares with
        # 'outgoing', so the sender is then the contact.
        $type_num = int $type;
        push @$warn, 'message_type given as an integer';
    } elsif (!ref $type && exists $MESSAGE_TYPE{$type}) {
        $type_num = $MESSAGE_TYPE{$type};
    } elsif (!_present($type)) {
        return (undef, {invalid => [['message_type', "Message type can't be blank"]]});
    } else {
        return (undef, {error => "'" . _ruby_s($type) . "' is not a valid message_type"});
    }
    my $sender_is_user = !$type_is_num && !ref $type && $type eq 'outgoing';

    my $ctype = $p->{content_type};
    if (_is_num($ctype) && $ctype == int $ctype && $ctype >= 0 && $ctype < @CONTENT_TYPES) {
        $ctype = $CONTENT_TYPES[$ctype];
    } elsif (!_present($ctype)) {
        $ctype = 'text';
    } elsif (ref $ctype || !grep { $ctype eq $_ } @CONTENT_TYPES) {
        return (undef, {error => "'" . _ruby_s($ctype) . "' is not a valid content_type"});
    }

    my $private = _truthy(_cast_bool($p->{private} // F)) ? T : F;

    my $content = $p->{content};
    if (ref $content && !_is_bool($content)) {
        push @$warn, 'content: an object or array; Rails would store its Ruby text';
        $content = rails_json($content);
    } else {
        $content = _cast_string($content, $warn, 'content');
    }

    # content_attributes: an object, or a JSON string (multipart); else {}.
    my $attrs = $p->{content_attributes};
    if (defined $attrs && !ref $attrs) {
        my $s = $attrs;
        utf8::encode($s);
        $attrs = eval { $JSON_IN->decode($s) };
        push @$warn, 'content_attributes: a string that is not JSON; Chatwoot uses {}'
            unless ref $attrs eq 'HASH';
    }
    $attrs = ref $attrs eq 'HASH' ? {%$attrs} : {};
    $attrs->{external_created_at} = $p->{external_created_at} if _present($p->{external_created_at});

    # Messages::InReplyToMessageBuilder: within this conversation, by id,
    # else by source_id; both keys from the message found, else both null.
    if (_present($attrs->{in_reply_to}) || _present($attrs->{in_reply_to_external_id})) {
        my $found;
        if (_present($attrs->{in_reply_to})) {
            my $id = _to_id($attrs->{in_reply_to}) // -1;
            ($found) = grep { $_->{id} == $id } @{$cv->{messages}};
        } else {
            my $ext = _ruby_s($attrs->{in_reply_to_external_id});
            ($found) = grep { defined $_->{source_id} && $_->{source_id} eq $ext } @{$cv->{messages}};
        }
        $attrs->{in_reply_to} = $found ? $found->{id} + 0 : undef;
        $attrs->{in_reply_to_external_id} = $found ? $found->{source_id} : undef;
    }

    # Attachments: uploaded files, or signed blob ids (direct uploads).
    my @files;
    my $att = $p->{attachments};
    if (_present($att)) {
        return (undef, {error => "undefined method 'each' for an instance of "
                       . (ref $att eq 'ChatwootTest::FakeChatwoot::Upload'
                          ? 'ActionDispatch::Http::UploadedFile' : ref $att eq 'HASH'
                          ? 'ActionController::Parameters' : 'String')})
            unless ref $att eq 'ARRAY';
        for my $f (@$att) {
            if (ref $f eq 'ChatwootTest::FakeChatwoot::Upload') {
                push @files, {filename => $f->{filename} // 'file', data => $f->{data},
                              content_type => $f->{content_type}};
            } elsif (!ref $f && (my $blob = $self->{blobs}{$f // ''})) {
                push @files, {blob => $blob};
            } else {
                return (undef, {error => 'ActiveSupport::MessageVerifier::InvalidSignature'});
            }
        }
        push @$warn, 'more than 15 attachments (Chatwoot only adds an error it does not enforce)'
            if @files > 15;
    }

    my @invalid;
    my $now = $self->_now;
    my $recent = grep { $_->{created_at} > $now - 60 } @{$cv->{messages}};
    push @invalid, ['base', 'Too many messages'] if $recent >= $self->{config}{flood_limit};
    push @invalid, ['content', "Content is too long (maximum is $MESSAGE_CONTENT_MAX characters)"]
        if defined $content && length $content > $MESSAGE_CONTENT_MAX;
    return (undef, {invalid => \@invalid}) if @invalid;

    push @$warn, 'a message with neither content nor attachments'
        if !_present($content) && !@files;
    my $m = {
        id => ++$self->{seq}{message}, conversation_pk => $cv->{pk},
        display_id => $cv->{display_id}, inbox_id => $cv->{inbox_id},
        content => $content, message_type => $type_num, content_type => $ctype,
        status => 'sent', content_attributes => $attrs, private => $private,
        source_id => _source_id_param($ctx, $p->{source_id}),
        sender_type => $sender_is_user ? 'User' : 'Contact',
        sender_id => $sender_is_user ? $self->{me}{id} : $cv->{contact_id},
        additional_attributes => {}, created_at => $now, updated_at => $now,
        attachments => [],
    };
    for my $f (@files) {
        my $blob = $f->{blob} // $self->_store_blob($f);
        my ($ext) = $blob->{filename} =~ /\.([^.]+)$/;
        push @{$m->{attachments}}, {
            id => ++$self->{seq}{attachment}, message_id => $m->{id},
            file_type => _truthy(_cast_bool($p->{is_voice_message})) ? 'audio'
                : _file_type($blob->{declared_type}),
            filename => $blob->{filename}, extension => $ext, signed_id => $blob->{signed_id},
            variation => $blob->{variation}, content_type => $blob->{content_type},
            file_size => length $blob->{data}, sha256 => sha256_hex($blob->{data}),
        };
    }
    push @{$cv->{messages}}, $m;
    $self->_after_message($cv, $m);
    return ($m);
}

sub _store_blob {
    my ($self, $f) = @_;
    my $n = scalar(keys %{$self->{blobs}}) + 1;
    my $b64 = b64_encode(rails_json({_rails => {data => $n, pur => 'blob_id'}}), '');
    my $signed = $b64 . '--' . sha1_hex("blob$n$b64");
    my $blob = {
        n => $n, signed_id => $signed, key => _token(28), filename => $f->{filename},
        declared_type => $f->{content_type},
        content_type => $f->{content_type} // 'application/octet-stream', data => $f->{data},
        variation => b64_encode(rails_json({_rails => {data => {resize_to_limit => [250, undef]},
                                                       pur => 'variation'}}), '')
            . '--' . sha1_hex("variation$n"),
    };
    $self->{blobs}{$signed} = $blob;
    return $blob;
}

# What a new message does to its conversation and contact.
sub _after_message {
    my ($self, $cv, $m) = @_;
    my $now = $m->{created_at};
    $cv->{last_activity_at} = $now;
    $cv->{updated_at} = $now;
    if ($m->{message_type} == 0) {
        # An incoming message reopens a resolved or snoozed conversation and
        # starts the wait.
        if ($cv->{status} eq 'resolved' || $cv->{status} eq 'snoozed') {
            $cv->{status} = 'open';
            $cv->{snoozed_until} = undef;
        }
        $cv->{waiting_since} //= $now;
        my $ct = $self->_contact_of($cv);
        $ct->{last_activity_at} = $now if $ct;
    } elsif ($m->{message_type} == 1 && !$m->{private} && $m->{sender_type} eq 'User') {
        $cv->{first_reply_created_at} //= $now;
        $cv->{waiting_since} = undef;
    }
    $self->_message_event(message_created => $m);
}

sub _h_messages_create {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $cv = $self->_find_conversation($p->{conversation_id}) or return _e404();
    my ($m, $err) = $self->_build_message($ctx, $cv, $p);
    if ($err) {
        # Any error becomes 422 {"error": message}.
        return _e422('Validation failed: ' . join(', ', map { $_->[1] } @{$err->{invalid}}))
            if $err->{invalid};
        return _e422($err->{error});
    }
    my $echo = defined $p->{echo_id} && !ref $p->{echo_id} ? _ruby_s($p->{echo_id}) : undef;
    return _json(200, $self->_message_json($m, $echo));
}

sub _h_messages_index {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $cv = $self->_find_conversation($p->{conversation_id}) or return _e404();
    my @all = @{$cv->{messages}};
    my $before = _present($p->{before}) ? _to_id($p->{before}) : undef;
    my $after = _present($p->{after}) ? _to_id($p->{after}) : undef;
    my @list;
    if (defined $before && defined $after) {
        @list = grep { $_->{id} > $after && $_->{id} < $before } @all;
        splice @list, 1000 if @list > 1000;
    } elsif (defined $after) {
        @list = grep { $_->{id} > $after } @all;
        splice @list, 100 if @list > 100;
    } elsif (defined $before) {
        @list = grep { $_->{id} < $before } @all;
        @list = @list[-20 .. -1] if @list > 20;
    } else {
        @list = @all > 20 ? @all[-20 .. -1] : @all;
    }
    my $ct = $self->_contact_of($cv);
    my %meta = (labels => [], additional_attributes => $cv->{additional_attributes},
                contact => $self->_contact_push($ct),
                agent_last_seen_at => _iso($cv->{agent_last_seen_at}),
                assignee_last_seen_at => _iso($cv->{assignee_last_seen_at}));
    $meta{assignee} = $self->_user_push if defined $cv->{assignee_id};
    return _json(200, {meta => \%meta, payload => [map { $self->_message_json($_) } @list]});
}

sub _find_message {
    my ($self, $cv, $id) = @_;
    $id = _to_id($id);
    return unless defined $id;
    my ($m) = grep { $_->{id} == $id } @{$cv->{messages}};
    return $m;
}

# PATCH messages/{id}: Messages::StatusUpdateService (CONTRACT 5.8, 2).
sub _h_messages_update {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $cv = $self->_find_conversation($p->{conversation_id}) or return _e404();
    my $m = $self->_find_message($cv, $p->{message_id}) or return _e404();
    my $inbox = $self->_inbox_of($cv);
    return _json(403, {error => 'Message status update is only allowed for API inboxes'})
        unless $inbox->{channel_type} eq 'Channel::Api';
    my $status = $p->{status};
    my $known = defined $status && !ref $status && grep { $status eq $_ } @MESSAGE_STATUSES;
    if (!$known) {
        push @{$ctx->{warn}}, 'unknown status ' . _ruby_s($status) . ': ignored, as Chatwoot does';
    } elsif ($status eq 'delivered' && $m->{status} eq 'read') {
        push @{$ctx->{warn}}, 'read -> delivered: ignored, as Chatwoot does';
    } else {
        my $before = rails_json([$m->{status}, $m->{content_attributes}]);
        $m->{status} = $status;
        $m->{content_attributes} = {%{$m->{content_attributes}},
            external_error => $status eq 'failed' ? _cast_string($p->{external_error}, $ctx->{warn}, 'external_error') : undef};
        $m->{updated_at} = $self->_now;
        # A save that changed nothing fires no event.
        $self->_message_event(message_updated => $m)
            if rails_json([$m->{status}, $m->{content_attributes}]) ne $before;
    }
    return _json(200, $self->_message_json($m));
}

sub _h_messages_destroy {
    my ($self, $ctx) = @_;
    my $p = $ctx->{params};
    my $cv = $self->_find_conversation($p->{conversation_id}) or return _e404();
    my $m = $self->_find_message($cv, $p->{message_id}) or return _e404();
    $m->{content} = 'This message was deleted';
    $m->{content_type} = 'text';
    $m->{content_attributes} = {deleted => T};
    $m->{attachments} = [];
    $m->{updated_at} = $self->_now;
    $self->_message_event(message_updated => $m);
    return _json(200, $self->_message_json($m));
}

###########################################################################
# ActiveStorage: unauthenticated redirects to the stored bytes

sub _h_storage_redirect {
    my ($self, $ctx) = @_;
    my $blob = $self->{blobs}{$ctx->{params}{signed_id}} or return _not_found_page($ctx->{c});
    my $name = url_escape(Mojo::Util::encode("UTF-8", $blob->{filename}), '^A-Za-z0-9\-._~');
    my $base = $blob->{storage_base} // $self->{base};
    return {status => 302, type => 'text/html; charset=utf-8', body => '',
            headers => {Location => "$base/rails/active_storage/disk/$blob->{key}/$name"}};
}

sub _h_storage_disk {
    my ($self, $ctx) = @_;
    my ($blob) = grep { $_->{key} eq $ctx->{params}{key} } values %{$self->{blobs}};
    return _not_found_page($ctx->{c}) unless $blob;
    return {status => 200, type => $blob->{content_type}, body => $blob->{data},
            headers => {'Content-Disposition' => qq{inline; filename="$blob->{filename}"}}};
}

package ChatwootTest::FakeChatwoot::Ordered;

package ChatwootTest::FakeChatwoot::Upload;

# A multipart file part: {filename, content_type, data, size}.
sub TO_JSON { my ($self) = @_; return {filename => $self->{filename}, size => $self->{size}} }

1;
