service_instance :vm, :vm, { :pagers => [ { :name => "mem0", :namespace => "\q" } ] }
