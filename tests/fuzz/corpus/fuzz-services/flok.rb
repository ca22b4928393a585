# a flok project's services file
service_instance :vm, :vm, {
  :pagers => [
    { :name => "mem0", :namespace => "user", :options => {} },
    { :name => "net0", :namespace => "news",
      :options => { "type" => "exec", "command" => ["./news-pager"], 'timeout_ms' => 500, } },
    { name: "spec1", namespace: "spec", options: { log: 'spec.log', readonly: true, ratio: 1.5, x: nil } }, // trailing
  ]
}
service_instance :other, :other, { :a => 1 }
