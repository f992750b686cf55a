# The control conversation ("WhatsApp bridge" in the inbox), through real
# nginx, the fake Chatwoot and the loopback WhatsApp server:
# - at start, unpaired: the QR as a PNG that zbarimg reads back as the QR
#   the mock expects; it rotates (the new image posted, the old deleted);
#   the phone scans the image's QR and links: "Linked as +<number>", and
#   the last image is deleted;
# - commands typed there (public, outgoing, the webhook brings them):
#   status, help, qr, code, logout, reconnect, unknown ones; each answered
#   once there (a redelivery is not answered again, a private note not at
#   all), and none reaches WhatsApp or the outbox;
# - notices: the mock's disconnect, several flaps (one notice, then one
#   summary once the throttle's window is over), the phone logging the
#   device out;
# - control_conversation off: none of it.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created for_chat);
use ChatwootTest::WaMock;
use JSON::PP;
use Mojo::UserAgent;
use Test::More;

system('command -v zbarimg >/dev/null 2>&1') == 0
    or plan skip_all => 'zbarimg (zbar-tools) is not installed';

my $THROTTLE = 20;   # seconds; the flaps below happen well within it
my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa(
    inbox => { extra => "        control_conversation on throttle=${THROTTLE}s;\n" });
my $fake = $t->{wa_setup}{fake};

# The control conversation in the fake: (contact, conversation) or ().
sub control {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    my ($ct) = grep { ($_->{identifier} // '') eq 'bridge:main' } @{$s->{contacts}};
    return () unless $ct;
    my ($cv) = grep { $_->{contact_id} == $ct->{id} } @{$s->{conversations}};
    return ($ct, $cv);
}
sub control_messages { my (undef, $cv) = control(); return $cv ? $cv->{messages} : [] }

# Waits for a message of the control conversation matching $re (content)
# whose id is above $after; returns it.
sub wait_message {
    my ($re, $after, $what, $timeout) = @_;
    return $t->wait_for(sub {
        my ($m) = grep { $_->{id} > ($after // 0) && ($_->{content} // '') =~ $re
                         && !($_->{content_attributes}{deleted}) } @{control_messages()};
        $m;
    }, $timeout // 20, $what);
}
sub last_id { my $m = control_messages(); @$m ? $m->[-1]{id} : 0 }
sub find_message { my ($id) = @_; my ($m) = grep { $_->{id} == $id } @{control_messages()}; $m }

# The QR text an image attachment shows, read by zbarimg: the bytes as an
# agent's browser gets them (the message's data_url from the API).
my $ua = Mojo::UserAgent->new(max_redirects => 3);
sub qr_of {
    my ($m) = @_;
    my (undef, $cv) = control();
    my $list = $ua->get("http://127.0.0.1:$fake/api/v1/accounts/1/conversations/"
                        . "$cv->{display_id}/messages" => { api_access_token => 'test-api-token' })
        ->result->json;
    my ($api) = grep { $_->{id} == $m->{id} } @{$list->{payload} // []};
    my $url = $api && $api->{attachments}[0] && $api->{attachments}[0]{data_url} or return;
    my $body = $ua->get($url)->result->body;
    my $png = $t->dir . "/qr-$m->{id}.png";
    open my $fh, '>:raw', $png or die "$png: $!";
    print {$fh} $body;
    close $fh;
    my $text = `zbarimg --quiet --raw $png 2>/dev/null`;
    chomp $text;
    return ($text, $body);
}

# An agent's message typed in the control conversation, as Chatwoot's
# webhook brings it.
my $next_id = 9000;
sub type_command {
    my ($content, %o) = @_;
    my (undef, $cv) = control();
    my $id = $o{id} // ++$next_id;
    my $body = for_chat(message_created(id => $id, conversation => $cv->{display_id},
                                        content => $content, private => $o{private}),
                        'bridge:main');
    my ($code, undef, $why) = $t->webhook($port, $body);
    is($code, $o{private} ? 200 : 202, "\"$content\": the webhook answers")
        or diag $why;
    return $id;
}

# 1. Unpaired at start: the QR image.
my $first = wait_message(qr/Scan this QR code/, 0, 'the first QR image', 30);
my ($ct, $cv) = control();
is($ct->{name}, 'WhatsApp bridge', 'the contact is "WhatsApp bridge"');
is($cv->{inbox_id}, 7, 'its conversation is in the inbox');
is($first->{message_type}, 0, 'posted as an incoming message (agents are notified)');
like($first->{source_id} // '', qr/^WAID:bridge-/, 'with a source id of its own');
is(scalar @{$first->{attachments}}, 1, 'one attachment');
is($first->{attachments}[0]{content_type}, 'image/png', 'a PNG');
my ($qr1, $png1) = qr_of($first);
is(substr($png1, 0, 8), "\x89PNG\r\n\x1a\n", 'the bytes are a PNG');
ok(length $qr1, 'zbarimg reads a QR from it');
# The devices API shows the snapshot, republished each second: it may
# still show the QR before this one for that long.
sub api_shows {
    my ($qr) = @_;
    return eval { $t->wait_for(sub { my ($c, $text) = $t->qr_text('main'); $text eq $qr }, 5,
                               'the devices API showing that QR') };
}
ok(api_shows($qr1), 'the QR the device shows (the one the mock expects)');

# 2. The ref rotates (60 s for the first): the new image, the old deleted.
my $second = wait_message(qr/Scan this QR code/, $first->{id}, 'a rotated QR image', 90);
my ($qr2) = qr_of($second);
isnt($qr2, $qr1, 'the rotated image shows a new QR');
ok(api_shows($qr2), 'the device\'s current one');
$t->wait_for(sub { find_message($first->{id})->{content_attributes}{deleted} }, 20,
             'the old QR image deleted');
ok(1, 'the previous QR image is deleted in Chatwoot (one QR shows at a time)');

# 3. The phone scans the posted QR: linked.
my $sent = $wa->scan($qr2);
my $paired = $wa->wait(type => 'paired', conn => $sent->{conn}, timeout => 20);
my $d = $t->wait_device('main', 'connected', 30);
(my $number = $d->{pn_jid}) =~ s/[:@].*//;
my $linked = wait_message(qr/^Linked as \+\Q$number\E/, $second->{id}, 'Linked as +number');
ok($linked, "\"Linked as +$number\"");
$t->wait_for(sub { find_message($second->{id})->{content_attributes}{deleted} }, 20,
             'the last QR image deleted once linked');
ok(1, 'the last QR image is deleted once linked');
my $login = $wa->wait(type => 'handshake', since => $paired->{seq}, timeout => 20);
$wa->wait(type => 'passive', conn => $login->{conn});

# 4. Commands: answered there, never sent to WhatsApp nor filed in the outbox.
my $since = $wa->last_seq;
my $mark = last_id();
my $status_id = type_command('Status');
my $status = wait_message(qr/^State: connected/, $mark, 'the status answer');
like($status->{content}, qr/Number: \+\Q$number\E/, 'status: the number');
like($status->{content}, qr/Reconnects: \d+/, 'status: the reconnects');
like($status->{content}, qr/waiting for Chatwoot: 0/, 'status: the queue');
like($status->{content}, qr/waiting for WhatsApp \(outbox\): 0/, 'status: the outbox');
is($status->{message_type}, 0, 'the answer is an incoming message too');

$mark = last_id();
type_command('status ', id => $status_id);           # the same message again
type_command('status', private => 1);               # a private note
type_command('  HELP ');
my $help = wait_message(qr/^Commands for this WhatsApp bridge/, $mark, 'the help answer');
like($help->{content}, qr/code \+5511999999999/, 'help names the commands');
is(scalar(grep { ($_->{content} // '') =~ /^State:/ && $_->{id} > $mark } @{control_messages()}),
   0, 'a redelivered command and a private note are not answered');

$mark = last_id();
type_command('make coffee');
wait_message(qr/^Unknown command; try help\.$/, $mark, 'unknown command');
ok(1, 'an unknown command: "Unknown command; try help."');
$mark = last_id();
type_command('code +55abc');
my $bad = wait_message(qr/is not a phone number/, $mark, 'a code with no phone');
like($bad->{content}, qr/"\+55abc" is not a phone number/, 'says what is not a phone number');
$mark = last_id();
type_command('code +5511999999999');
wait_message(qr/^Cannot pair by code: the device is linked already/, $mark,
             'code while linked says why');
ok(1, 'code while linked: refused with the reason');
$mark = last_id();
type_command('qr');
wait_message(qr/^Cannot pair by QR: the device is linked already/, $mark, 'qr while linked');
ok(1, 'qr while linked: refused with the reason');

is_deeply($wa->received_with('message', since => $since), [],
          'no command reached WhatsApp (the mock saw no message stanza)');
is($t->sql('SELECT count(*) FROM outbox')->[0][0], 0, 'nothing was filed in the outbox');
is($t->sql(q{SELECT count(*) FROM control_commands WHERE inbox = 'main'})->[0][0], 6,
   'each command filed once (the redelivery is the same row)');

# An account restriction WhatsApp pushes, with its end time.
$mark = last_id();
my $ends = time + 3600;
$wa->wa_restriction(kind => 'reachout_timelock', active => 1, ends => $ends);
my $lock = wait_message(qr/^WhatsApp restricted this account: /, $mark, 'restriction notice');
my @end = gmtime $ends;
my $end_text = sprintf '%04d-%02d-%02d %02d:%02d', $end[5] + 1900, $end[4] + 1, @end[3, 2, 1];
like($lock->{content}, qr/time lock.*\Q$end_text\E/, "the time lock's end: $lock->{content}");

# A WhatsApp message Chatwoot refuses for good (its contact's name is over
# Chatwoot's 255 characters; WhatsApp allows it): the notice names the
# chat and the time, not the text.
$mark = last_id();
$wa->wa_contact('4915100000011');
$wa->wa_message(from => '4915100000011', push_name => 'N' x 256,
                message => { conversation => 'zzz secret text' });
my $dead = wait_message(qr/^Chatwoot rejected a WhatsApp message for good/, $mark,
                        'the dead-letter notice', 60);
like($dead->{content}, qr/chat \+4915100000011 /, 'it names the chat');
like($dead->{content}, qr/sent \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'and the time');
unlike($dead->{content}, qr/secret/, 'not the text');

# 5. The mock drops the connection: disconnected, reconnecting, connected.
$mark = last_id();
$wa->drop($login->{conn});
my $down = wait_message(qr/^WhatsApp disconnected; reconnecting/, $mark, 'disconnected notice');
ok($down, 'the mock\'s disconnect: "WhatsApp disconnected; reconnecting"');
$d = $t->wait_device('main', 'connected', 30);

# 6. Flaps within the window: held, then one summary after it.
for my $n (1 .. 2) {
    my $before = $d->{reconnects};
    my $from = $wa->last_seq;
    my $live = $t->wait_for(sub { $wa->live_logins->[-1] }, 30, 'a live login to drop');
    $wa->drop($live->{conn});
    $d = $t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{reconnects} > $before },
                         30, "connected again after flap $n");
}
my $summary = wait_message(qr/^\d+ more changes?: .*disconnected at \d\d:\d\d:\d\d/s,
                           $down->{id}, 'the summary of the flaps', $THROTTLE + 30);
ok($summary, 'after the window, one summary lists the disconnects held back');
is(scalar(grep { ($_->{content} // '') =~ /^WhatsApp disconnected/ } @{control_messages()}), 1,
   'one disconnect notice within the window, the rest in the summary');

# 7. reconnect, then logout by command (the mock gets remove-companion-device).
$mark = last_id();
my $from = $wa->last_seq;
my $live = $t->wait_for(sub { $wa->live_logins->[-1] }, 30, 'a live login');
type_command('reconnect');
wait_message(qr/^Reconnecting to WhatsApp\.$/, $mark, 'reconnect answer');
ok(1, 'reconnect: answered');
$wa->wait(type => 'closed', conn => $live->{conn}, since => $from, timeout => 20);
my $again = $wa->wait(type => 'handshake', since => $from, timeout => 20);
is($again->{client}{kind}, 'login', 'reconnect: the device logs in again at once');
$d = $t->wait_device('main', 'connected', 30);
$since = $wa->last_seq;
$mark = last_id();
type_command('logout');
wait_message(qr/^Logging out of WhatsApp\.$/, $mark, 'logout answer');
ok(1, 'logout: answered');
$wa->wait(type => 'remove-companion-device', since => $since);
my $fresh = wait_message(qr/Scan this QR code/, $mark, 'a QR once logged out', 30);
my ($qr3) = qr_of($fresh);
ok(api_shows($qr3), 'after the logout: the new QR as an image');

# 8. Pairing by code, asked for there: the code posted as text; typed on
# the phone, the device is linked to that number.
my $PHONE = '15553334444';
$mark = last_id();
$since = $wa->last_seq;
type_command('code +1 555 333 4444');
wait_message(qr/^Asking WhatsApp for a pairing code for \+\Q$PHONE\E/, $mark, 'code answer');
my $hello = $wa->wait(type => 'pair-code-hello', since => $since);
is($hello->{phone}, $PHONE, 'code: the mock sees companion_hello for that number');
my $cm = wait_message(qr/^Pairing code: /, $mark, 'the pairing code posted');
my ($pc) = $cm->{content} =~ /^Pairing code: (\S+)/;
like($pc // '', qr/^[A-Z0-9]{4}-?[A-Z0-9]{4}$/, 'the code: 8 characters');
$t->wait_for(sub { find_message($fresh->{id})->{content_attributes}{deleted} }, 20,
             'the QR image deleted once a code is asked for');
ok(1, 'the QR image goes when pairing turns to a code');
$wa->enter_code($pc, $hello->{conn});
my $paired2 = $wa->wait(type => 'paired', since => $since);
my $login2 = $wa->wait(type => 'handshake', since => $paired2->{seq});
$t->wait_device('main', 'connected', 20);
wait_message(qr/^Linked as \+\Q$PHONE\E/, $cm->{id}, 'linked by the code');
ok(1, "linked by the posted code: \"Linked as +$PHONE\"");
unlike($t->read_file('error.log'), qr/\Q$pc\E/, 'the code is never logged');
is($t->sql(q{SELECT count(*) FROM control_notices WHERE kind = 'code' AND text != ''})->[0][0], 0,
   'the store keeps no copy of the code once posted');
$wa->wait(type => 'passive', conn => $login2->{conn});

# The phone logs the device out (401): a notice.
$mark = last_id();
$wa->stream_error('401', $login2->{conn});
wait_message(qr/^WhatsApp logged this device out/, $mark, 'logged out notice');
ok(1, 'the phone\'s logout: "WhatsApp logged this device out"');

# 9. control_conversation off: nothing posted, no command taken.
my $notices = $t->sql('SELECT count(*) FROM control_notices')->[0][0];
my $posted = scalar @{control_messages()};
$t->stop;
$t->wa_write_config(inbox => { extra => "        control_conversation off;\n" })->run;
$t->wait_helper_running;
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
my $c = $wa->wa_contact('4915100000077');
$wa->wa_message(from => '4915100000077', message => { conversation => 'after off' });
$t->wait_for(sub {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    grep { ($_->{content} // '') eq 'after off' } map { @{$_->{messages}} } @{$s->{conversations}};
}, 30, 'a contact\'s message reaches Chatwoot');
is($t->sql('SELECT count(*) FROM control_notices')->[0][0], $notices,
   'off: no notice decided (linking, the QR)');
is(scalar @{control_messages()}, $posted, 'off: nothing posted in the control conversation');

$t->finish;
done_testing;
