# The chatwoot_metrics location through real nginx: a scrape is valid
# Prometheus text (Debian's promtool says so), its values move as messages
# flow both ways (counters and latency histograms per inbox), the device's
# state gauges follow the device, it answers with the helper stopped (from
# shared memory), refuses other methods, and the alert rules in examples/
# are valid rules.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use File::Temp qw(tempfile);
use JSON::PP;
use Test::More;

my $PROMTOOL = '/usr/bin/promtool';
my $JSON = JSON::PP->new->canonical->utf8;

my $t = ChatwootTest->new;
my ($fake, $device, $port) = $t->start_bridge;

sub scrape {
    my ($code, $h, $body) = $t->http($port, 'GET', '/chatwoot/metrics');
    die "metrics answered $code" unless $code == 200;
    return wantarray ? ($body, $h) : $body;
}

# "name{labels}" -> value
sub samples {
    my ($text) = @_;
    my %s;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/ || $line eq '';
        my ($key, $value) = $line =~ /^(\S+(?:\{.*\})?) (\S+)$/ or die "bad line: $line";
        $s{$key} = $value;
    }
    return \%s;
}

sub value {
    my ($key) = @_;
    my $v = samples(scrape())->{$key};
    die "no sample $key" unless defined $v;
    return $v;
}

sub wait_value {
    my ($key, $want, $what) = @_;
    return $t->wait_for(sub { my $v = samples(scrape())->{$key}; defined $v && $v == $want }, 15, $what);
}

sub device_file {
    my ($name, $m) = @_;
    open my $fh, '>', "$device/$name.tmp" or die $!;
    print {$fh} $JSON->encode($m);
    close $fh;
    rename "$device/$name.tmp", "$device/$name" or die $!;
}

sub promtool_check {
    my ($text) = @_;
    my ($fh, $file) = tempfile(DIR => $t->dir, SUFFIX => '.prom');
    print {$fh} $text;
    close $fh;
    my $out = `$PROMTOOL check metrics < '$file' 2>&1`;
    return ($? == 0, $out);
}

my $inbox = 'inbox="main"';
my $to_cw = qq{chatwoot_bridge_messages_bridged_total{$inbox,direction="to_chatwoot"}};
my $to_wa = qq{chatwoot_bridge_messages_bridged_total{$inbox,direction="to_whatsapp"}};
my $h_cw = qq{chatwoot_bridge_whatsapp_to_chatwoot_seconds_count{$inbox}};
my $h_wa = qq{chatwoot_bridge_chatwoot_to_whatsapp_seconds_count{$inbox}};

# --- the scrape itself ------------------------------------------------------
{
    my ($body, $h) = scrape();
    is($h->{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'the 0.0.4 text format');
    like($body, qr/^# HELP chatwoot_bridge_webhooks_total /m, 'with HELP lines');
    like($body, qr/^# TYPE chatwoot_bridge_whatsapp_to_chatwoot_seconds histogram$/m, 'and TYPE lines');
    my $s = samples($body);
    is($s->{$to_cw}, 0, 'nothing bridged yet');
    is($s->{'chatwoot_bridge_helper_up'}, 1, 'the helper is up');
    is($s->{'chatwoot_bridge_queue_capacity'}, 4096, 'the queue capacity');
    ok(wait_value(qq{chatwoot_bridge_device_state{$inbox,state="connected"}}, 1,
                  'the device in the snapshot'),
       'the synthetic device is connected, once the helper published it');

    my ($code, $rh, $rbody) = $t->http($port, 'HEAD', '/chatwoot/metrics');
    is($code, 200, 'HEAD answers');
    is($rbody // '', '', 'without a body');
    ($code, $rh) = $t->http($port, 'POST', '/chatwoot/metrics', body => 'x');
    is($code, 405, 'POST is refused');
    is($rh->{allow}, 'GET, HEAD', 'naming the methods');
}

# --- promtool ---------------------------------------------------------------
SKIP: {
    skip "promtool is not installed ($PROMTOOL; Debian package prometheus, which build.sh installs)", 2
        unless -x $PROMTOOL;
    my ($ok, $out) = promtool_check(scrape());
    ok($ok, 'promtool check metrics accepts a scrape') or diag $out;
    my $rules = `$PROMTOOL check rules examples/prometheus-rules.yml 2>&1`;
    is($?, 0, 'promtool check rules accepts examples/prometheus-rules.yml') or diag $rules;
}

# --- values move as messages flow -------------------------------------------
my $chat = '5511987654321@s.whatsapp.net';
device_file('0001.json', { id => 'M1', chat => $chat, push_name => 'Maria', text => 'oi' });
wait_value($to_cw, 1, 'the WhatsApp message counted as bridged to Chatwoot');
is(value($h_cw), 1, 'and its time in the WhatsApp -> Chatwoot histogram');
my $s = samples(scrape());
cmp_ok($s->{qq{chatwoot_bridge_whatsapp_to_chatwoot_seconds_sum{$inbox}}}, '>', 0, 'with a time');
is($s->{qq{chatwoot_bridge_whatsapp_to_chatwoot_seconds_bucket{$inbox,le="+Inf"}}}, 1,
   'in the +Inf bucket');
cmp_ok($s->{qq{chatwoot_bridge_chatwoot_requests_total{$inbox,class="2xx"}}}, '>=', 1,
       "Chatwoot's answers counted by class");
is($s->{$to_wa}, 0, 'no reply yet');

my $state = ChatwootTest::FakeChatwoot->get_state($fake);
my $conv = $state->{conversations}[0]{display_id};
my ($code, undef, $why) = $t->webhook($port, message_created(
    id => 9001, conversation => $conv, content => 'Olá Maria'));
is($code, 202, "the agent's reply is accepted") or diag $why;
wait_value($to_wa, 1, 'the reply counted as bridged to WhatsApp');
is(value($h_wa), 1, 'and its time in the Chatwoot -> WhatsApp histogram');
my ($payload) = @{$t->sql(q{SELECT CAST(payload AS TEXT) FROM inbound_events ORDER BY id DESC LIMIT 1})->[0]};
like($payload, qr/"accepted_msec":\d{13},/,
     "timed from the webhook's arrival at nginx, which the queued record carries to the ms");
$s = samples(scrape());
my $sum = $s->{qq{chatwoot_bridge_chatwoot_to_whatsapp_seconds_sum{$inbox}}};
ok($sum > 0 && $sum < 15, "a time that took place during this test ($sum s)");
is($s->{'chatwoot_bridge_webhooks_total{outcome="queued"}'}, 1, 'the webhook counted as queued');
cmp_ok($s->{'chatwoot_bridge_store_commits_total'}, '>=', 1, 'and its commit');
is($s->{$to_cw}, 1, 'the other way did not move');
is($t->status->{bridge}{whatsapp_posted}, 1, 'the status location sums the inbox slots too');

SKIP: {
    skip 'no promtool', 1 unless -x $PROMTOOL;
    my ($ok, $out) = promtool_check(scrape());
    ok($ok, 'promtool accepts the scrape with histograms filled') or diag $out;
}

# --- device state gauges follow the device ----------------------------------
my $qr = qq{chatwoot_bridge_device_state{$inbox,state="pairing_qr"}};
my $connected = qq{chatwoot_bridge_device_state{$inbox,state="connected"}};
open my $fh, '>', "$device/pairing-qr" or die $!;
print {$fh} 'not-a-real-qr';
close $fh;
wait_value($qr, 1, 'the device waits for a scan');
is(value($connected), 0, 'and is not connected');
unlink "$device/pairing-qr" or die $!;
wait_value($connected, 1, 'the device connects');
is(value($qr), 0, 'and no longer waits for a scan');

# --- the helper stopped ------------------------------------------------------
my ($helper) = @{$t->helper_pids};
ok($helper, 'a helper runs');
kill 'STOP', $helper;
my ($stopped_code, undef, $stopped_body) = $t->http($port, 'GET', '/chatwoot/metrics');
kill 'CONT', $helper;
is($stopped_code, 200, 'the scrape answers with the helper stopped');
is(samples($stopped_body)->{$to_wa}, 1, 'from shared memory');

$t->finish;
done_testing;
