# WhatsApp messages into Chatwoot, through the helper's REST client against
# a fake Chatwoot strict to the real contract, from a synthetic device (a
# directory of message files): one contact and one conversation per chat,
# every message once, in order per chat, with WhatsApp formatting turned
# into Chatwoot's, replies linked, group senders named; and the same when
# Chatwoot fails, loses answers, and the helper is killed on the way.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use Test::More;
use Digest::SHA qw(sha256_hex);


sub write_messages {
    my ($dir, @messages) = @_;
    for my $m (@messages) {
        ChatwootTest->device_message($dir, $m->{seq},
                                     map { $_ => $m->{$_} } grep { $_ ne 'seq' } keys %$m);
    }
}

sub conversations_of {
    my ($state) = @_;
    my %by_contact;
    for my $c (@{$state->{conversations}}) {
        push @{$by_contact{$c->{contact_id}}}, $c;
    }
    return \%by_contact;
}

sub start {
    my (%o) = @_;
    my $extra = $o{extra} // '';
    my $t = ChatwootTest->new;
    my ($fake, $device) = $t->start_bridge(extra => "concurrency 8;\n$extra");
    return ($t, $fake, $device);
}

# --- the plain path ---------------------------------------------------------
{
    my ($t, $fake, $device) = start();
    my $seq = 0;
    write_messages($device,
        { seq => ++$seq, id => 'A1', chat => '5511987654321@s.whatsapp.net', push_name => 'Maria',
          text => 'Olá, *tudo bem*?' },
        { seq => ++$seq, id => 'B1', chat => '5521912345678@s.whatsapp.net', push_name => 'João',
          text => 'first from João' },
        { seq => ++$seq, id => 'A2', chat => '5511987654321@s.whatsapp.net', push_name => 'Maria',
          text => 'replying', reply_to => 'A1' },
        { seq => ++$seq, id => 'G1', chat => '120363000000000000@g.us', chat_name => 'Família',
          sender => '5511987654321@s.whatsapp.net', push_name => 'Maria', text => 'oi _gente_' },
        { seq => ++$seq, id => 'A3', chat => '5511987654321@s.whatsapp.net', from_me => JSON::PP::true,
          text => 'sent from my own phone' },
    );

    my $state = $t->wait_for(sub {
        my $s = ChatwootTest::FakeChatwoot->get_state($fake);
        my $n = 0;
        $n += scalar @{$_->{messages}} for @{$s->{conversations}};
        $n == 5 ? $s : undef;
    }, 15, 'five messages in Chatwoot');

    my %contacts = map { $_->{identifier} => $_ } @{$state->{contacts}};
    is_deeply([sort keys %contacts],
              ['120363000000000000@g.us', '5511987654321@s.whatsapp.net', '5521912345678@s.whatsapp.net'],
              'one contact per chat, identified by its JID');
    is($contacts{'5511987654321@s.whatsapp.net'}{phone_number}, '+5511987654321', 'with its E.164 phone');
    is($contacts{'5511987654321@s.whatsapp.net'}{name}, 'Maria', 'named after the push name');
    is($contacts{'120363000000000000@g.us'}{name}, 'Família', 'a group is named after its subject');
    ok(!defined $contacts{'120363000000000000@g.us'}{phone_number}, 'and has no phone');

    my $convs = conversations_of($state);
    is(scalar(keys %$convs), 3, 'three contacts with conversations');
    is(scalar(@{$convs->{$_}}), 1, "one conversation for contact $_") for sort keys %$convs;

    my $maria = $convs->{$contacts{'5511987654321@s.whatsapp.net'}{id}}[0];
    my @m = @{$maria->{messages}};
    is_deeply([map { $_->{source_id} } @m], ['WAID:A1', 'WAID:A2', 'WAID:A3'], "Maria's messages in order");
    is($m[0]{content}, 'Olá, **tudo bem**?', 'WhatsApp bold became Chatwoot bold');
    is($m[0]{message_type}, 0, 'her messages are incoming');
    is($m[2]{message_type}, 1, 'one sent from the own phone is outgoing');
    is($m[1]{content_attributes}{in_reply_to_external_id}, 'WAID:A1', 'a reply points at what it quotes');
    is($m[1]{content_attributes}{in_reply_to}, $m[0]{id}, 'which Chatwoot resolved');
    my $group = $convs->{$contacts{'120363000000000000@g.us'}{id}}[0];
    is($group->{messages}[0]{content}, '**Maria:** oi *gente*', 'a group message names its sender');

    is_deeply($t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state}), [['posted', 5]],
              'the store has every message as posted');
    my $bridge = $t->status->{bridge};
    is($bridge->{whatsapp_posted}, 5, 'status counts the posted messages');
    ok($bridge->{api_requests} >= 5 * 1 + 3 * 3, "and the Chatwoot requests ($bridge->{api_requests})");
    is_deeply($t->sql(q{SELECT count(*) FROM chats WHERE contact_id IS NOT NULL AND conversation_id IS NOT NULL}),
              [[3]], 'and every chat mapped');
    opendir(my $dh, $device);
    is(scalar(grep { /\.json$/ } readdir $dh), 0, 'the device directory was emptied');
    my @warn = grep { @{$_->{warnings} // []} } @{$state->{requests}};
    is(scalar @warn, 0, 'nothing we sent needed a cast by Chatwoot') or diag explain \@warn;

    # The same message again (a device delivering twice) adds nothing.
    write_messages($device, { seq => ++$seq, id => 'A1', chat => '5511987654321@s.whatsapp.net',
                              text => 'Olá, *tudo bem*?' });
    $t->wait_device_done($device);   # taken, and nothing of it left to post
    is_deeply($t->sql(q{SELECT count(*) FROM wa_inbound}), [[5]], 'a message delivered twice is stored once');
    $state = ChatwootTest::FakeChatwoot->get_state($fake);
    my $n = 0;
    $n += scalar @{$_->{messages}} for @{$state->{conversations}};
    is($n, 5, 'a message delivered twice is in Chatwoot once');
    $t->finish;
}

# --- media ---------------------------------------------------------------------
{
    my ($t, $fake, $device) = start();
    # A real PNG signature and a binary body with every byte value (and a
    # CRLF-dash-dash run, which must not end a multipart part early).
    my $png = "\x89PNG\r\n\x1a\n" . join('', map { chr } 0 .. 255) . "\r\n--x\r\n" x 50;
    my $pdf = "%PDF-1.4\n" . ('x' x 300_000);
    for ([photo => $png], [doc => $pdf]) {
        open my $fh, '>:raw', "$device/$_->[0].bin" or die $!;
        print {$fh} $_->[1];
        close $fh;
    }
    write_messages($device,
        { seq => 1, id => 'P1', chat => '5511987654321@s.whatsapp.net', push_name => 'Maria',
          text => 'look *here*',
          attachments => [{ file => 'photo.bin', mime => 'image/png', name => 'photo.png' }] },
        { seq => 2, id => 'P2', chat => '5511987654321@s.whatsapp.net', push_name => 'Maria',
          attachments => [{ file => 'doc.bin', mime => 'application/pdf', name => 'contract.pdf' }] },
        { seq => 3, id => 'P3', chat => '5511987654321@s.whatsapp.net', push_name => 'Maria',
          attachments => [{ file => 'missing.bin', mime => 'image/jpeg' }] },
    );
    my $state = $t->wait_for(sub {
        my $s = ChatwootTest::FakeChatwoot->get_state($fake);
        @{$s->{conversations}} && @{$s->{conversations}[0]{messages}} >= 2 ? $s : undef;
    }, 15, 'the media messages in Chatwoot');
    my @m = @{$state->{conversations}[0]{messages}};
    is(scalar @m, 2, 'both media messages, and not the one whose file is missing');
    is($m[0]{content}, 'look **here**', 'the caption is the content');
    is($m[0]{attachments}[0]{file_type}, 'image', 'an image, from the part content type');
    is($m[0]{attachments}[0]{file_name}, 'photo.png', 'with its name');
    is($m[0]{attachments}[0]{sha256}, sha256_hex($png), 'and exactly its bytes');
    is($m[0]{source_id}, 'WAID:P1', 'with its WhatsApp id');
    is($m[1]{attachments}[0]{file_type}, 'file', 'a PDF is a file');
    is($m[1]{attachments}[0]{sha256}, sha256_hex($pdf), 'of 300 KB, whole');
    ok(!defined $m[1]{content} || $m[1]{content} eq '', 'a media message needs no caption');
    my @warn = grep { @{$_->{warnings} // []} } @{$state->{requests}};
    is(scalar @warn, 0, 'the multipart requests needed no cast by Chatwoot') or diag explain \@warn;
    is_deeply([map { s{.*/}{}r } glob "$device/*.bad"], ['0000000003-P3.bad'],
              'a message whose file is missing is set aside as .bad');
    $t->allow_log(qr/missing\.bin.*renamed to \.bad/);
    $t->wait_for(sub { !glob("$t->{state}/media/*") }, 5,
                 'the media store is empty once the messages are in Chatwoot');
    $t->finish;
}

# --- chats the operator keeps out ------------------------------------------------
{
    my ($t, $fake, $device) = start(extra => "ignore_groups on;\n"
                                             . "ignore_jids 5511999999999\@s.whatsapp.net;\n");
    write_messages($device,
        { seq => 1, id => 'G', chat => '120363000000000000@g.us', text => 'group' },
        { seq => 2, id => 'I', chat => '5511999999999@s.whatsapp.net', text => 'ignored' },
        { seq => 3, id => 'S', chat => 'status@broadcast', sender => '5511987654321@s.whatsapp.net',
          text => 'a status update' },
        { seq => 4, id => 'K', chat => '5511987654321@s.whatsapp.net', text => 'kept' },
    );
    my $state = $t->wait_for(sub {
        my $s = ChatwootTest::FakeChatwoot->get_state($fake);
        @{$s->{conversations}} && @{$s->{conversations}[0]{messages}} ? $s : undef;
    }, 15, 'the kept message in Chatwoot');
    $t->wait_device_done($device);   # every file taken, nothing left to post
    $state = ChatwootTest::FakeChatwoot->get_state($fake);
    is_deeply([map { $_->{identifier} } @{$state->{contacts}}], ['5511987654321@s.whatsapp.net'],
              'groups, listed chats and status updates never reach Chatwoot');
    is_deeply($t->sql('SELECT wa_id FROM wa_inbound'), [['K']], 'nor the store');
    $t->finish;
}

# --- faults and crashes --------------------------------------------------------
{
    my ($t, $fake, $device) = start();
    $t->allow_log(qr/cache manager process \d+ exited on signal 9/);
    ChatwootTest::FakeChatwoot->set_faults($fake,
        { kind => '500', probability => 0.15 },
        { kind => 'reset', probability => 0.05 },
        { kind => 'lost_answer', probability => 0.10 },
        { kind => '422_too_many', probability => 0.02, method => 'POST', path_regex => '/messages$' },
    );

    my ($chats, $per_chat) = (12, 10);
    my @all;
    for my $i (1 .. $per_chat) {
        for my $c (1 .. $chats) {
            push @all, { seq => scalar(@all) + 1, id => "C${c}M$i",
                         chat => sprintf('55119%08d@s.whatsapp.net', $c), push_name => "Chat $c",
                         text => "message $i of chat $c" };
        }
    }
    # Each kill lands while the helper is at work, a third of the way into
    # its batch: some messages posted, some still pending, as the frozen
    # helper's store shows at kill time.
    my ($done, $left) = (0, 0);
    my $busy = sub {
        my $before = $done;
        ($done, $left) = map { $_ // 0 }
            @{$t->sql(q{SELECT sum(state = 'posted'), sum(state = 'pending') FROM wa_inbound})->[0]};
        $done > $before && $left > 0;
    };
    write_messages($device, @all[0 .. 59]);
    ok($t->kill_helper_busy(ready => sub { $_[0]{bridge}{whatsapp_posted} >= 20 }, busy => $busy,
                            what => 'the helper posting'),
       "the first kill landed mid-work ($done posted, $left pending)");
    my $counted = $t->status->{bridge}{whatsapp_posted};
    write_messages($device, @all[60 .. $#all]);
    ok($t->kill_helper_busy(ready => sub { $_[0]{bridge}{whatsapp_posted} >= $counted + 20 }, busy => $busy,
                            what => 'the restarted helper posting'),
       "the second kill landed mid-work, after the restarted helper posted more ($done posted, $left pending)");

    my $state = $t->wait_for(sub {
        my $s = ChatwootTest::FakeChatwoot->get_state($fake);
        my $n = 0;
        $n += scalar @{$_->{messages}} for @{$s->{conversations}};
        return $s if $n >= @all && !$t->sql(q{SELECT count(*) FROM wa_inbound WHERE state = 'pending'})->[0][0];
        undef;
    }, 60, 'every message in Chatwoot');

    my %by_source;
    my %order;
    for my $conv (@{$state->{conversations}}) {
        for my $m (@{$conv->{messages}}) {
            $by_source{$m->{source_id}}++;
            push @{$order{$conv->{contact_id}}}, $m->{source_id};
        }
    }
    is(scalar(keys %by_source), scalar(@all), 'every message arrived');
    my @dups = grep { $by_source{$_} > 1 } keys %by_source;
    is(scalar(@dups), 0, 'none twice, despite lost answers and kills') or diag "@dups";
    is(scalar(@{$state->{contacts}}), $chats, 'one contact per chat');
    is(scalar(@{$state->{conversations}}), $chats, 'one conversation per chat');
    my $disorder = 0;
    for my $list (values %order) {
        my @i = map { /M(\d+)$/ ? $1 : 0 } @$list;
        $disorder++ if join(',', @i) ne join(',', sort { $a <=> $b } @i);
    }
    is($disorder, 0, 'order kept in every conversation');
    is_deeply($t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state}),
              [['posted', scalar @all]], 'all posted in the store');
    my $faults = grep { $_->{fault} } @{$state->{requests}};
    ok($faults > 20, "the fake injected $faults faults");
    $t->finish;
}

done_testing;
